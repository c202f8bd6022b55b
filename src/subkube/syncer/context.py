"""What every kind needs to know about the vcluster it works for, and where it reads."""

from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any, Protocol

from subkube.config.model import Sync
from subkube.kube.cache import InformerCache
from subkube.kube.informer import Informer
from subkube.kube.resource import Resource
from subkube.kube.rest import Kube, Obj
from subkube.syncer import names

# The index of host copies by the virtual object they were made from ("namespace/name"):
# every key to look at, at start and on resync, without decoding each cached copy.
BY_VIRTUAL = "virtual"


def by_virtual(hobj: Obj) -> list[str]:
    key = names.virtual_key(hobj)
    return [] if key is None else ["/".join(key)]


def owned_informer(
    cache: InformerCache, resource: Resource, *, host_namespace: str, vcluster: str
) -> Informer:
    """The shared informer of VCLUSTER's host objects of RESOURCE (namespaced)."""
    informer = cache.informer(
        "host",
        resource,
        namespace=host_namespace,
        label_selector=f"{names.LABEL_MANAGED_BY}={vcluster}",
    )
    # Declared here, before it lists, not by each kind later: a late index decodes every
    # cached copy once more.
    informer.add_index(BY_VIRTUAL, by_virtual)
    return informer


class Kubelets(Protocol):
    """Where the nodes inside say their kubelet is: the runner's endpoint, a port per node."""

    address: str

    async def port(self, node: str) -> int: ...


@dataclass
class SyncContext:
    vcluster: str
    host_namespace: str
    # The vcluster's own Service on the host: owner of every synced object, and the address
    # tenant pods use to reach their API server.
    owner_service: dict[str, Any]
    virtual: Kube
    host: Kube
    cluster_domain: str = "cluster.local"
    dns_service_ip: str = ""
    workload_service_account: str = ""
    sync: Sync = field(default_factory=Sync)
    # The Pod Security Standard no host pod may break.
    pod_security: str = "baseline"
    # A scheduler inside places pods on the copies of all host nodes.
    virtual_scheduler: bool = False
    kubelets: Kubelets | None = None
    # Kind -> resource of every kind this vcluster copies to the host (events about them
    # come back).
    to_host_kinds: dict[str, Resource] = field(default_factory=dict)
    # Virtual objects that make the ConfigMaps and Secrets they name sync: (resource, what
    # an object names as "plural/namespace/name"), of every enabled kind that names any.
    referrers: list[tuple[Resource, Callable[[Any], list[str]]]] = field(default_factory=list)
    # A cache whose host informers started before the virtual API served (list_host_copies):
    # the syncer's cache goes on from it.
    prefetched: InitVar[InformerCache | None] = None
    cache: InformerCache = field(init=False)

    def __post_init__(self, prefetched: InformerCache | None) -> None:
        self.cache = prefetched or InformerCache({})
        self.cache.clusters.update(virtual=self.virtual, host=self.host)

    @property
    def api_service_ip(self) -> str:
        return str(self.owner_service.get("spec", {}).get("clusterIP", ""))

    @property
    def owner_reference(self) -> dict[str, Any]:
        return names.owner_reference(self.owner_service)

    def host_name(self, name: str, namespace: str) -> str:
        return names.host_name(name, namespace, self.vcluster)

    def owned(self, resource: Resource) -> Informer:
        """The shared informer of this vcluster's host objects of RESOURCE."""
        return owned_informer(
            self.cache, resource, host_namespace=self.host_namespace, vcluster=self.vcluster
        )
