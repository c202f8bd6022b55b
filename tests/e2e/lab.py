"""A local host made for one test module, and the vclusters on it, driven by real CLIs."""

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import kubectl, subkube


class HostLab:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.host_kc = Path()
        self.kc: dict[str, Path] = {}

    @property
    def env(self) -> dict[str, str]:
        return {"SUBKUBE_STATE_DIR": str(self.state), "KUBECONFIG": str(self.host_kc)}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subkube(*args, env=self.env)

    def host(self, *args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
        return kubectl(self.host_kc, *args, check=check, **kw)

    def host_json(self, *args: str) -> Any:
        return json.loads(self.host(*args, "-o", "json").stdout)
