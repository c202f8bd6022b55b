"""Where a local vcluster keeps its data, and its daemon's state file."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from subkube.paths import state_dir


def vclusters_root() -> Path:
    return state_dir() / "vclusters"


def vcluster_dir(namespace: str, name: str) -> Path:
    return vclusters_root() / namespace / name


@dataclass
class VClusterState:
    name: str
    namespace: str
    phase: str
    pid: int | None = None
    host_kubeconfig: str = ""
    host_context: str = ""
    kubeconfig: str = ""
    server: str = ""
    started_at: str = ""
    error: str = ""
    components: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return vcluster_dir(self.namespace, self.name) / "state.json"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path)


def load_state(namespace: str, name: str) -> VClusterState | None:
    try:
        return VClusterState(
            **json.loads((vcluster_dir(namespace, name) / "state.json").read_text())
        )
    except (OSError, ValueError, TypeError):
        return None


def known_vclusters() -> list[tuple[str, str]]:
    root = vclusters_root()
    if not root.is_dir():
        return []
    return sorted((p.parent.name, p.name) for p in root.glob("*/*") if (p / "state.json").exists())
