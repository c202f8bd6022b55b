"""What every kind needs to know about the vcluster it works for, and where it reads."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from subkube.config.model import Sync
from subkube.kube.cache import InformerCache
from subkube.kube.informer import Informer
from subkube.kube.resource import Resource
from subkube.kube.rest import Kube
from subkube.syncer import names


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
    cache: InformerCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = InformerCache({"virtual": self.virtual, "host": self.host})

    @property
    def api_service_ip(self) -> str:
        return str(self.owner_service.get("spec", {}).get("clusterIP", ""))

    @property
    def owner_reference(self) -> dict[str, Any]:
        return names.owner_reference(self.owner_service)

    def host_name(self, name: str, namespace: str) -> str:
        return names.host_name(name, namespace, self.vcluster)

    @property
    def managed_selector(self) -> str:
        return f"{names.LABEL_MANAGED_BY}={self.vcluster}"

    def owned(self, resource: Resource) -> Informer:
        """The shared informer of this vcluster's host objects of RESOURCE."""
        return self.cache.informer(
            "host", resource, namespace=self.host_namespace, label_selector=self.managed_selector
        )
