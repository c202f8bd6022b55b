"""Endpoints: synced only for selector-less Services (the host computes the others)."""

from subkube.kube.informer import Informer
from subkube.kube.resource import ENDPOINTS, Resource
from subkube.kube.rest import Obj
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.resources.endpoints import translate
from subkube.syncer.resources.services.syncer import SKIPPED


class Endpoints(Kind):
    name = "endpoints"
    resource: Resource = ENDPOINTS
    translate = translate
    owned_fields = ("subsets",)

    def __init__(self, ctx: SyncContext, services: Informer) -> None:
        super().__init__(ctx)
        self.services = services

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if (meta.get("namespace"), meta["name"]) in SKIPPED:
            return False
        service = self.services.get(meta.get("namespace", ""), meta["name"])
        return service is not None and not service.get("spec", {}).get("selector")
