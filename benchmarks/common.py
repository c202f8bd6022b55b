"""Helpers shared by the benchmark scripts."""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUBKUBE = [sys.executable, "-m", "subkube"]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
    """Started for the block, and stopped with its data after it, whatever happens."""
    with tempfile.TemporaryDirectory() as state:
        env = {"SUBKUBE_STATE_DIR": state}
        try:
            run([*SUBKUBE, "host", "up", "--name", name, "--nodes", str(nodes)], env)
            env["KUBECONFIG"] = run([*SUBKUBE, "host", "kubeconfig", "--name", name], env).strip()
            run([*SUBKUBE, "create", "bench", "-n", "tenant", "--no-connect"], env)
            vc = run([*SUBKUBE, "kubeconfig", "bench", "-n", "tenant"], env).strip()
            yield Lab(Path(state), env, env["KUBECONFIG"], vc)
        finally:
            for args in (
                ["delete", "bench", "-n", "tenant"],
                ["host", "down", "--name", name, "--purge"],
            ):
                subprocess.run(
                    [*SUBKUBE, *args], env={**os.environ, **env}, capture_output=True, check=False
                )
