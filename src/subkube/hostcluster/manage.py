"""Start, inspect and stop local hosts (each one a detached daemon process)."""

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from subkube import daemonize
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.hostcluster import daemon, engine
from subkube.hostcluster.state import HostState, host_dir, load_state
from subkube.kube.client import connect
from subkube.kube.resource import NODES
from subkube.kube.rest import TRANSIENT, ApiError, Kube

DAEMON_MODULE = "subkube.hostcluster.daemon"


def is_running(state: HostState | None) -> bool:
    return state is not None and state.running


def up(
    name: str,
    *,
    nodes: int,
    store: str,
    pods_per_node: int = 110,
    runtime: str = "auto",
    tuned: bool = False,
    timeout: float = 180.0,
    on_phase: Callable[[str], None] | None = None,
) -> HostState:
    directory = host_dir(name)
    current = load_state(name)
    if is_running(current):
        assert current is not None
        if current.phase == "Running":
            return current
        return daemonize.wait_running(
            lambda: load_state(name),
            f"host {name}",
            current.pid,
            directory / "daemon.log",
            timeout,
            on_phase,
        )
    if current is not None and current.store != store and (directory / "data").exists():
        raise SubkubeError(
            f"host {name} keeps its data in {current.store}; start it with --store "
            f"{current.store}, or `subkube host down {name} --purge` first"
        )
    log_path = directory / "daemon.log"
    args = [
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
        "--runtime",
        runtime,
        *(["--tuned"] if tuned else []),
    ]
    proc = daemonize.spawn(DAEMON_MODULE, args, log_path)
    return daemonize.wait_running(
        lambda: load_state(name), f"host {name}", proc.pid, log_path, timeout + 30, on_phase, proc
    )


def down(name: str, *, purge: bool = False, timeout: float = 60.0) -> bool:
    """Stop the host; True if it was running. --purge also deletes its data."""
    directory = host_dir(name)
    state = load_state(name)
    was_running = is_running(state) or (state is not None and pid_alive(state.pid))
    if state is not None and was_running and state.pid:
        daemonize.terminate(state.pid, timeout)
        fresh = load_state(name)
        if fresh is not None and fresh.phase not in ("Stopped", "Failed"):
            fresh.phase, fresh.pid, fresh.components = "Stopped", None, {}
            fresh.save()
    elif state is None and not directory.exists():
        raise SubkubeError(f"no local host named {name}; `subkube host status` lists them")
    # A daemon that was killed could not stop its containers.
    asyncio.run(engine.remove_leftovers(str(directory)))
    if purge and directory.exists():
        shutil.rmtree(directory)
    return was_running


async def _probe(state: HostState) -> dict[str, object]:
    """Live facts: does the API answer, how many nodes are Ready."""
    if not is_running(state) or not state.kubeconfig:
        return {"api": "down", "nodes_ready": 0}
    try:
        async with connect(Path(state.kubeconfig)) as api:
            nodes = await asyncio.wait_for(Kube(api).list(NODES), 5)
        return {"api": "ok", "nodes_ready": daemon.ready_nodes(nodes)}
    except (ApiError, *TRANSIENT, SubkubeError):
        return {"api": "unreachable", "nodes_ready": 0}


def probe(state: HostState) -> dict[str, object]:
    return asyncio.run(_probe(state))
