"""Where a local host keeps its data, and the state file its daemon keeps current."""

import re
from dataclasses import dataclass, field
from pathlib import Path

from subkube import daemonize
from subkube.errors import SubkubeError
from subkube.paths import state_dir

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise SubkubeError(
            f"invalid host name {name!r}: use lowercase letters, digits and '-', at most 40 "
            "characters, starting and ending with a letter or digit"
        )
    return name


def hosts_root() -> Path:
    return state_dir() / "hosts"


def host_dir(name: str) -> Path:
    return hosts_root() / validate_name(name)


@dataclass
class HostState(daemonize.DaemonState):
    nodes: int = 0
    store: str = "kine"
    # How pods of the subkube image run: "container (podman)" or "process (…)".
    runtime: str = ""
    # Flags `host up --tuned` gave its components (hostcluster/tuning.py), by component.
    tuning: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return host_dir(self.name) / "state.json"


def load_state(name: str) -> HostState | None:
    return daemonize.load(HostState, host_dir(name) / "state.json")


def known_hosts() -> list[str]:
    root = hosts_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "state.json").exists())
