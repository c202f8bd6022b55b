"""Where a local host keeps its data, and the state file its daemon keeps current."""

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from subkube.errors import SubkubeError
from subkube.paths import state_dir

Phase = Literal["Starting", "Running", "Stopping", "Stopped", "Failed"]

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
class HostState:
    name: str
    phase: Phase
    pid: int | None = None
    nodes: int = 0
    store: str = "kine"
    server: str = ""
    kubeconfig: str = ""
    started_at: str = ""
    error: str = ""
    components: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return host_dir(self.name) / "state.json"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path)


def load_state(name: str) -> HostState | None:
    try:
        data = json.loads((host_dir(name) / "state.json").read_text())
        return HostState(**data)
    except (OSError, ValueError, TypeError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); read its state to tell.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def known_hosts() -> list[str]:
    root = hosts_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "state.json").exists())
