"""A local host made for one test module, and the vclusters on it, driven by real CLIs."""

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from tests.conftest import kubectl, subkube

# Two nginx pods in namespace "shop": the workload the lifecycle tests carry across.
WEB_IN_SHOP = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


class HostLab:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.host_kc = Path()
        self.host_name = ""
        self.kc: dict[str, Path] = {}

    def host_up(self, name: str, nodes: int) -> None:
        """Start the local host NAME for this lab; host_down() removes it."""
        env = {"SUBKUBE_STATE_DIR": str(self.state)}
        up = subkube("host", "up", "--name", name, "--nodes", str(nodes), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        self.host_kc = Path(subkube("host", "kubeconfig", "--name", name, env=env).stdout.strip())
        self.host_name = name

    @contextlib.contextmanager
    def running(self, name: str, nodes: int) -> Iterator[Self]:
        """The host NAME up for the duration, removed afterwards even on failure."""
        self.host_up(name, nodes)
        try:
            yield self
        finally:
            self.host_down()

    def host_down(self) -> None:
        """Delete every vcluster of the lab, then the host and its data."""
        listed = self.cli("list", "-o", "json")
        for row in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            self.cli("delete", row["name"], "-n", row["namespace"])
        subkube(
            "host",
            "down",
            "--name",
            self.host_name,
            "--purge",
            env={"SUBKUBE_STATE_DIR": str(self.state)},
        )

    @property
    def env(self) -> dict[str, str]:
        return {"SUBKUBE_STATE_DIR": str(self.state), "KUBECONFIG": str(self.host_kc)}

    def daemon_state(self, *parts: str) -> dict[str, Any]:
        """A daemon's state file in the lab: ("hosts", NAME) or ("vclusters", NS, NAME)."""
        return dict(json.loads(self.state.joinpath(*parts, "state.json").read_text()))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subkube(*args, env=self.env)

    def host(self, *args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
        return kubectl(self.host_kc, *args, check=check, **kw)

    def host_json(self, *args: str) -> Any:
        return json.loads(self.host(*args, "-o", "json").stdout)
