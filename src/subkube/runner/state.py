"""Where a local vcluster keeps its data, and its daemon's state file."""

from dataclasses import dataclass
from pathlib import Path

from subkube import daemonize
from subkube.errors import SubkubeError
from subkube.paths import state_dir


def vclusters_root() -> Path:
    return state_dir() / "vclusters"


def vcluster_dir(namespace: str, name: str) -> Path:
    return vclusters_root() / namespace / name


def controlplane_dir(namespace: str, name: str) -> Path:
    """The control plane's data dir (store, PKI, ports) as the runner lays it out: the
    runner's data dir is `data` in the vcluster's, the control plane's `controlplane` in it."""
    return vcluster_dir(namespace, name) / "data" / "controlplane"


@dataclass
class VClusterState(daemonize.DaemonState):
    namespace: str = ""
    host_kubeconfig: str = ""
    host_context: str = ""
    metrics: str = ""
    driver: str = "local"  # local: a daemon here; helm: the chart's StatefulSet on the host
    # helm: the local process forwarding LOCAL_PORT to the pod's API port.
    forwarder_pid: int | None = None
    local_port: int = 0
    # Phase Sleeping: since when (ISO 8601, UTC) and why (inactivity | schedule | manual).
    sleeping_since: str = ""
    sleep_reason: str = ""

    @property
    def phase_on_host(self) -> bool:
        """Its phase is its pod's, on the host (helm); this file holds what was last seen."""
        return self.driver == "helm"

    @property
    def running(self) -> bool:
        if self.phase_on_host:
            return self.phase == "Running"
        return super().running

    @property
    def sleeping(self) -> bool:
        """Asleep: its process holds only the API address, and wakes on the first request."""
        return self.phase == "Sleeping" and (self.phase_on_host or daemonize.pid_alive(self.pid))

    @property
    def path(self) -> Path:
        return vcluster_dir(self.namespace, self.name) / "state.json"


def load_state(namespace: str, name: str) -> VClusterState | None:
    return daemonize.load(VClusterState, vcluster_dir(namespace, name) / "state.json")


def existing(name: str, namespace: str) -> VClusterState:
    """NAME's state, or an error that says how to find the vclusters there are."""
    state = load_state(namespace, name)
    if state is None:
        raise SubkubeError(
            f"no vcluster {name} in namespace {namespace}; `subkube list` shows them"
        )
    return state


def known_vclusters() -> list[tuple[str, str]]:
    root = vclusters_root()
    if not root.is_dir():
        return []
    return sorted((p.parent.name, p.name) for p in root.glob("*/*") if (p / "state.json").exists())
