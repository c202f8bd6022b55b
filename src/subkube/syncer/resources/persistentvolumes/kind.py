"""PersistentVolumes: the tenant's own volumes to the host (cluster-scoped copies), claimRef
naming the claim's host copy; status back, and the claim the host bound a volume to. A volume
that would reach storage the tenant may not (translate.refusal) stays inside, with a Warning
event and its status saying why. The volumes shown inside for bound claims are not the
tenant's and never go (persistentvolumeclaims)."""

from subkube.kube.informer import Informer
from subkube.kube.resource import PVCS, PVS, STORAGECLASSES, Resource
from subkube.kube.rest import Obj
from subkube.syncer import refusal
from subkube.syncer.references import reference
from subkube.syncer.resources.persistentvolumes import translate
from subkube.syncer.resources.storageclasses import translate as storageclasses
from subkube.syncer.tohost import ToHost


class PersistentVolumes(ToHost):
    name = "persistentvolumes"
    resource: Resource = PVS
    translate = translate
    # The tenant's classes inside (None: not synced to the host), and the host copies of
    # its claims (None: not synced either).
    classes: Informer | None = None
    host_claims: Informer | None = None

    def watch(self) -> list[Informer]:
        informers = super().watch()
        cache, sync = self.ctx.cache, self.ctx.sync
        if sync.toHost.storageClasses.enabled:
            self.classes = cache.informer("virtual", STORAGECLASSES)
            # A volume of a class that arrives after it names the class's host copy now, and
            # may no longer be refused.
            self.classes.add_handler(lambda _t, obj: self._class_changed(obj))
            informers.append(self.classes)
        if sync.toHost.persistentVolumeClaims.enabled:
            self.host_claims = self.ctx.owned(PVCS)
            informers.append(self.host_claims)
        return informers

    def _class_changed(self, storage_class: Obj) -> None:
        name = storage_class["metadata"]["name"]
        for vobj in self.virtual.items():
            if (vobj.get("spec") or {}).get("storageClassName") == name:
                self._enqueue_virtual(vobj)

    def _storage_classes(self) -> set[str]:
        """The tenant's classes copied to the host."""
        if self.classes is None:
            return set()
        return {c["metadata"]["name"] for c in self.classes.items() if storageclasses.wanted(c)}

    @staticmethod
    def references(vobj: Obj) -> list[str]:
        return [reference("secrets", ns, name) for ns, name in translate.secret_references(vobj)]

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            storage_classes=self._storage_classes(),
        )

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        claim_ref = self._claim_ref(vobj, hobj)
        if claim_ref is not None:
            meta = vobj["metadata"]
            patch = {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "spec": {"claimRef": claim_ref},
            }
            vobj = await self.ctx.virtual.patch(PVS, meta["name"], patch)
        written = await super().sync_back(vobj, hobj)
        return written or (vobj if claim_ref is not None else None)

    def _claim_ref(self, vobj: Obj, hobj: Obj) -> Obj | None:
        """The claimRef the virtual volume gets: the virtual claim whose host copy the host
        bound this volume's copy to, when the tenant named no claim."""
        href = (hobj.get("spec") or {}).get("claimRef")
        if (vobj.get("spec") or {}).get("claimRef") or not href or self.host_claims is None:
            return None
        hclaim = self.host_claims.get(href.get("namespace", ""), href.get("name", ""))
        if hclaim is None or hclaim["metadata"].get("uid") != href.get("uid"):
            return None
        return translate.claim_ref_to_virtual(hclaim, vcluster=self.ctx.vcluster)

    async def refuse(self, vobj: Obj) -> bool:
        level = self.ctx.pod_security
        message = translate.refusal(vobj, level, storage_classes=self._storage_classes())
        if message is None:
            return False
        status = vobj.get("status") or {}
        if (status.get("reason"), status.get("message")) != (refusal.REASON, message):
            # `kubectl get pv` shows the reason, `kubectl describe pv` the event.
            await self.ctx.virtual.patch(
                PVS,
                vobj["metadata"]["name"],
                {"status": {"reason": refusal.REASON, "message": message}},
                subresource="status",
            )
            await self.tell_refused(vobj, message)
        return True
