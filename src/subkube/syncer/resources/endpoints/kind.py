"""Endpoints: synced only for selector-less Services (the host computes the others)."""

from subkube.kube.informer import Informer
from subkube.kube.resource import ENDPOINTS, SERVICES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.resources.endpoints import translate
from subkube.syncer.resources.services.kind import SKIPPED
from subkube.syncer.tohost import ToHost


class Endpoints(ToHost):
    name = "endpoints"
    resource: Resource = ENDPOINTS
    translate = translate
    owned_fields = ("subsets",)

    def watch(self) -> list[Informer]:
        self.services = self.ctx.cache.informer("virtual", SERVICES)
        # A Service gaining or losing its selector changes whether its Endpoints sync.
        self.services.add_handler(
            lambda _t, svc: self.enqueue(
                (svc["metadata"].get("namespace", ""), svc["metadata"]["name"])
            )
        )
        return [*super().watch(), self.services]

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if (meta.get("namespace"), meta["name"]) in SKIPPED:
            return False
        service = self.services.get(meta.get("namespace", ""), meta["name"])
        return service is not None and not service.get("spec", {}).get("selector")
