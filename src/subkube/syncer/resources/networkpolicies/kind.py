"""NetworkPolicies: virtual -> host (sync.toHost.networkPolicies), selectors scoped to the
tenant; re-translated when virtual namespaces (and so namespaceSelector matches) change."""

from subkube.kube.informer import Informer
from subkube.kube.resource import NAMESPACES, NETWORKPOLICIES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.resources.networkpolicies import translate
from subkube.syncer.tohost import ToHost


class NetworkPolicies(ToHost):
    name = "networkpolicies"
    resource: Resource = NETWORKPOLICIES
    owned_fields = ("spec",)

    def watch(self) -> list[Informer]:
        self.namespaces = self.ctx.cache.informer("virtual", NAMESPACES)
        # A namespace's labels decide which namespaceSelectors match it.
        self.namespaces.add_handler(lambda _t, _o: [self.enqueue(k) for k in self.all_keys()])
        return [*super().watch(), self.namespaces]

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
            namespaces=self.namespaces.items(),
        )
