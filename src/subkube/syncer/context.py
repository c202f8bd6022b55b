"""What every syncer needs to know about the vcluster it works for."""

from dataclasses import dataclass
from typing import Any

from subkube.kube.rest import Kube
from subkube.syncer import names


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
