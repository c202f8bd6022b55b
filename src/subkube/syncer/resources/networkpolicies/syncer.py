"""NetworkPolicies: virtual -> host (sync.toHost.networkPolicies), selectors scoped to the
tenant; re-translated when virtual namespaces (and so namespaceSelector matches) change."""

from subkube.kube.informer import Informer
from subkube.kube.resource import NAMESPACES, NETWORKPOLICIES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.resources.networkpolicies import translate


class NetworkPolicies(Kind):
    name = "networkpolicies"
    resource: Resource = NETWORKPOLICIES
    owned_fields = ("spec",)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.namespaces = Informer(ctx.virtual, NAMESPACES, name="virtual-namespaces")

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
            namespaces=self.namespaces.items(),
        )
