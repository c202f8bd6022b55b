"""Start, inspect and stop local hosts (each one a detached daemon process)."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from subkube.controlplane.process import tail
from subkube.errors import SubkubeError
from subkube.hostcluster.state import HostState, host_dir, load_state, pid_alive
from subkube.kube.client import connect

DAEMON_MODULE = "subkube.hostcluster.daemon"


def is_running(state: HostState | None) -> bool:
    return state is not None and state.phase in ("Starting", "Running") and pid_alive(state.pid)


def up(
    name: str,
    *,
    nodes: int,
    store: str,
    pods_per_node: int = 110,
    timeout: float = 180.0,
    on_phase: Callable[[str], None] | None = None,
) -> HostState:
    directory = host_dir(name)
    current = load_state(name)
    if is_running(current):
        assert current is not None
        if current.phase == "Running":
            return current
        return _wait_running(name, current.pid, directory / "daemon.log", timeout, on_phase)
    if current is not None and current.store != store and (directory / "data").exists():
        raise SubkubeError(
            f"host {name} keeps its data in {current.store}; start it with --store "
            f"{current.store}, or `subkube host down {name} --purge` first"
        )
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "daemon.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                DAEMON_MODULE,
                "--name",
                name,
                "--nodes",
                str(nodes),
                "--store",
                store,
                "--pods-per-node",
                str(pods_per_node),
                "--timeout",
                str(timeout),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return _wait_running(name, proc.pid, log_path, timeout + 30, on_phase, proc)


def _wait_running(
    name: str,
    pid: int | None,
    log_path: Path,
    timeout: float,
    on_phase: Callable[[str], None] | None,
    proc: subprocess.Popen[bytes] | None = None,
) -> HostState:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        state = load_state(name)
        if state is not None and state.pid == pid:
            if state.phase != seen and on_phase:
                on_phase(state.phase)
            seen = state.phase
            if state.phase == "Running":
                return state
            if state.phase in ("Failed", "Stopped"):
                raise SubkubeError(f"host {name} failed to start: {state.error or 'stopped'}")
        exited = proc.poll() is not None if proc else not pid_alive(pid)
        if exited:
            raise SubkubeError(
                f"host {name}'s daemon exited during start-up; last lines of "
                f"{log_path}:\n{tail(log_path)}"
            )
        time.sleep(0.3)
    raise SubkubeError(f"host {name} did not start within {timeout:.0f}s; see {log_path}")


def down(name: str, *, purge: bool = False, timeout: float = 60.0) -> bool:
    """Stop the host; True if it was running. --purge also deletes its data."""
    directory = host_dir(name)
    state = load_state(name)
    was_running = is_running(state) or (state is not None and pid_alive(state.pid))
    if state is not None and was_running and state.pid:
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(state.pid):
            # Its children carry PDEATHSIG, so killing the daemon takes them down too.
            os.kill(state.pid, signal.SIGKILL)
            while pid_alive(state.pid):
                time.sleep(0.1)
        fresh = load_state(name)
        if fresh is not None and fresh.phase not in ("Stopped", "Failed"):
            fresh.phase, fresh.pid, fresh.components = "Stopped", None, {}
            fresh.save()
    elif state is None and not directory.exists():
        raise SubkubeError(f"no local host named {name}; `subkube host status` lists them")
    if purge and directory.exists():
        shutil.rmtree(directory)
    return was_running


async def _probe(state: HostState) -> dict[str, object]:
    """Live facts: does the API answer, how many nodes are Ready."""
    if not is_running(state) or not state.kubeconfig:
        return {"api": "down", "nodes_ready": 0}
    try:
        async with connect(Path(state.kubeconfig)) as api:
            nodes = await asyncio.wait_for(client.CoreV1Api(api).list_node(), 5)
        ready = sum(
            1
            for n in nodes.items
            for c in (n.status.conditions or [])
            if c.type == "Ready" and c.status == "True"
        )
        return {"api": "ok", "nodes_ready": ready}
    except (aiohttp.ClientError, ApiException, OSError, TimeoutError, SubkubeError):
        return {"api": "unreachable", "nodes_ready": 0}


def probe(state: HostState) -> dict[str, object]:
    return asyncio.run(_probe(state))
