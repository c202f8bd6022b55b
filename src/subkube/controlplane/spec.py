"""What a control plane is asked to be, and the ports it was given."""

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from subkube.controlplane.pki import LEAF_LIFETIME
from subkube.controlplane.ports import free_port, port_in_use

Store = Literal["kine", "etcd"]


@dataclass(frozen=True)
class Replica:
    """This replica's etcd member NAME among MEMBERS (name -> the host its peers reach it
    by), listening for them on LISTEN_IP; TOKEN tells this cluster from any other."""

    name: str
    members: dict[str, str]
    listen_ip: str
    token: str


@dataclass
class ControlPlaneSpec:
    name: str
    data_dir: Path
    store: Store = "kine"
    # kine in front of this database instead of its own SQLite file under data_dir.
    kine_datasource: str = ""
    # An etcd this control plane uses but does not run, and the TLS files to reach it
    # (etcd-cafile, etcd-certfile, etcd-keyfile flags of kube-apiserver).
    etcd_endpoint: str = ""
    etcd_tls: dict[str, str] = field(default_factory=dict)
    service_cidr: str = "10.96.0.0/12"
    cluster_cidr: str = "10.244.0.0/16"
    cluster_domain: str = "cluster.local"
    scheduler: bool = False
    # The controller-manager's --controllers: a vcluster removes the ones that belong to the host.
    controllers: list[str] = field(default_factory=lambda: ["*"])
    # Host clusters hand nodes pod CIDRs; a vcluster's nodes are fake and get none.
    allocate_node_cidrs: bool = True
    extra_sans: list[str] = field(default_factory=list)
    # Addresses the runner's own endpoints (kubelet API, webhook) serve on besides loopback.
    runner_ips: list[str] = field(default_factory=list)
    leaf_lifetime: dt.timedelta = LEAF_LIFETIME
    # The address clients are given when it is not the API server's own (a vcluster's front
    # door); the components keep the API server's.
    public_server: str = ""
    apiserver_extra_args: dict[str, str] = field(default_factory=dict)
    controller_manager_extra_args: dict[str, str] = field(default_factory=dict)
    scheduler_extra_args: dict[str, str] = field(default_factory=dict)
    # 0 means "any free port"; whatever is chosen is remembered in ports.json for restarts.
    ports: dict[str, int] = field(default_factory=dict)
    startup_timeout: float = 120.0
    # One of several replicas: its etcd is a member of a cluster across them, and its
    # controller-manager and scheduler take turns with theirs through leader election.
    replica: Replica | None = None

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def client_kubeconfig(self) -> Path:
        """The admin's credentials at the public address."""
        return self.data_dir / "client.kubeconfig" if self.public_server else self.admin_kubeconfig


PORT_NAMES = (
    "apiserver",
    "store",
    "store_peer",
    "store_metrics",
    "controller_manager",
    "scheduler",
)


def assign_ports(spec: ControlPlaneSpec) -> dict[str, int]:
    """Ports for every component: asked-for ones as given, else the ones used last time if they
    are still free (an etcd member's peer URL must not change), else fresh free ports."""
    remembered_path = spec.data_dir / "ports.json"
    try:
        remembered = json.loads(remembered_path.read_text())
    except (OSError, ValueError):
        remembered = {}
    ports: dict[str, int] = {}
    for name in PORT_NAMES:
        asked = spec.ports.get(name, 0)
        if asked:
            ports[name] = asked
        elif isinstance(remembered.get(name), int) and not port_in_use(remembered[name]):
            ports[name] = remembered[name]
        else:
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[name] = port
    remembered_path.parent.mkdir(parents=True, exist_ok=True)
    remembered_path.write_text(json.dumps(ports, indent=2))
    return ports
