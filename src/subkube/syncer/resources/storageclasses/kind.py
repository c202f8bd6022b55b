"""StorageClasses: the tenant's own classes to the host (cluster-scoped copies), so that its
claims are provisioned by them; claims and volumes name them by their host names. A class
whose parameters could name Secrets that are not the tenant's is refused (translate)."""

from subkube.kube.resource import STORAGECLASSES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.context import SyncContext
from subkube.syncer.references import reference
from subkube.syncer.resources.storageclasses import translate
from subkube.syncer.tohost import ToHost


class StorageClasses(ToHost):
    name = "storageclasses"
    resource: Resource = STORAGECLASSES
    translate = translate

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        # Name -> (uid, message) of the refusals told: a class has no status to remember
        # them in, and a tenant is told once per message, not on every resync.
        self._told: dict[str, tuple[str, str]] = {}

    @staticmethod
    def references(vobj: Obj) -> list[str]:
        return [reference("secrets", ns, name) for ns, name in translate.secret_references(vobj)]

    async def refuse(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        message = translate.refusal(vobj, self.ctx.pod_security)
        if message is None:
            self._told.pop(meta["name"], None)
            return False
        told = (meta["uid"], message)
        if self._told.get(meta["name"]) != told:
            await self.tell_refused(vobj, message)
            self._told[meta["name"]] = told
        return True

    async def virtual_gone(self, key: tuple[str, str], hobj: Obj | None) -> None:
        self._told.pop(key[1], None)
