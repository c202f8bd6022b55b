"""Helpers shared by the benchmark scripts."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The scripts run with this folder on sys.path: the harness's pieces serve them too.
import harness


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, input=stdin, env={**os.environ, **env}
    ).stdout


@dataclass
class Lab:
    """A private local host with one vcluster `bench` in namespace `tenant`."""

    state: Path
    env: dict[str, str]
    host_kubeconfig: str
    vcluster_kubeconfig: str


@contextmanager
def host_with_vcluster(name: str, nodes: int = 2) -> Iterator[Lab]:
    """Started for the block, and stopped with its data after it, whatever happens: the
    harness's host, untuned, as these scripts measured from the start."""
    with harness.host(name, nodes, pods_per_node=110, tuned=False) as host:
        vc = host.vcluster("bench", "tenant")
        state = Path(host.env["SUBKUBE_STATE_DIR"])
        yield Lab(state, host.env, str(host.kubeconfig), str(vc.kubeconfig))
