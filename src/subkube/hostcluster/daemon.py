"""The background process of a local host: control plane + scheduler + kwok + fake nodes.

Started detached by `subkube host up`; its children die with it (see controlplane.process).
It records its progress in state.json, stops everything on SIGTERM, and restarts a component
that crashes.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
import signal
import sys
import time
from pathlib import Path

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from subkube import log as sklog
from subkube.binaries.catalog import locate
from subkube.binaries.gobuild import KWOK_STAGES_FILE
from subkube.controlplane import kwok
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.health import wait_until_healthy
from subkube.controlplane.process import Process, free_port
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.errors import SubkubeError
from subkube.hostcluster.state import HostState, host_dir
from subkube.kube.client import connect
from subkube.log import kv

log = logging.getLogger("subkube.host")

RESTART_LIMIT = 5


def node_name(i: int) -> str:
    return f"kwok-node-{i}"


async def ensure_nodes(kubeconfig: Path, count: int, pods_per_node: int) -> None:
    """Exactly COUNT fake nodes: create the missing ones, remove extra ones from a larger run."""
    async with connect(kubeconfig) as api:
        core = client.CoreV1Api(api)
        existing = await core.list_node(label_selector="type=kwok")
        have = {n.metadata.name for n in existing.items}
        want = {node_name(i) for i in range(count)}
        for name in sorted(want - have):
            with contextlib.suppress(ApiException):
                await core.create_node(kwok.node_manifest(name, pods=pods_per_node))
        for name in sorted(have - want):
            with contextlib.suppress(ApiException):
                await core.delete_node(name)


async def wait_nodes_ready(kubeconfig: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    ready = 0
    async with connect(kubeconfig) as api:
        core = client.CoreV1Api(api)
        while time.monotonic() < deadline:
            nodes = await core.list_node(label_selector="type=kwok")
            ready = sum(
                1
                for n in nodes.items
                for c in (n.status.conditions or [])
                if c.type == "Ready" and c.status == "True"
            )
            if ready >= count:
                return
            await asyncio.sleep(0.5)
    raise SubkubeError(
        f"only {ready} of {count} kwok nodes became Ready within {timeout:.0f}s; see the kwok log"
    )


class HostDaemon:
    def __init__(self, state: HostState, spec: ControlPlaneSpec, pods_per_node: int) -> None:
        self.state = state
        self.spec = spec
        self.pods_per_node = pods_per_node
        self.cp = ControlPlane(spec)
        self.kwok: Process | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        await self.cp.start()
        kwok_port = free_port()
        self.kwok = self.cp.add_process(
            "kwok",
            kwok.argv(
                locate("kwok"),
                locate(KWOK_STAGES_FILE, executable=False),
                self.cp.kubeconfig,
                kwok_port,
                self.spec.cluster_cidr,
            ),
        )
        await self.kwok.start()
        await wait_until_healthy(
            self.kwok, kwok.health_url(kwok_port), timeout=self.spec.startup_timeout
        )
        await ensure_nodes(self.cp.kubeconfig, self.state.nodes, self.pods_per_node)
        await wait_nodes_ready(self.cp.kubeconfig, self.state.nodes, self.spec.startup_timeout)

    async def supervise(self) -> None:
        """Restart crashed components with backoff; give up after RESTART_LIMIT crashes."""
        crashes: dict[str, int] = {}
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 2.0)
            for proc in list(self.cp.processes):
                if proc.running or self.stopping.is_set():
                    continue
                crashes[proc.name] = crashes.get(proc.name, 0) + 1
                log.warning(
                    "component exited",
                    extra=kv(component=proc.name, code=proc.returncode, crashes=crashes[proc.name]),
                )
                if crashes[proc.name] > RESTART_LIMIT:
                    raise SubkubeError(
                        f"{proc.name} keeps crashing; last lines of "
                        f"{proc.log_path}:\n{proc.log_tail()}"
                    )
                await asyncio.sleep(min(2 ** crashes[proc.name], 30))
                await proc.start()
            self.state.components = {p.name: p.pid or 0 for p in self.cp.processes}


async def run(args: argparse.Namespace) -> int:
    directory = host_dir(args.name)
    state = HostState(
        name=args.name, phase="Starting", pid=os.getpid(), nodes=args.nodes, store=args.store
    )
    state.save()
    spec = ControlPlaneSpec(
        name=args.name,
        data_dir=directory / "data",
        store=args.store,
        scheduler=True,
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        startup_timeout=args.timeout,
    )
    daemon = HostDaemon(state, spec, args.pods_per_node)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    code = 0
    try:
        starting = asyncio.ensure_future(daemon.start())
        stop_wait = asyncio.ensure_future(daemon.stopping.wait())
        await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        else:
            stop_wait.cancel()
            starting.result()
            state.phase = "Running"
            state.server = daemon.cp.server
            state.kubeconfig = str(daemon.cp.kubeconfig)
            state.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            state.components = {p.name: p.pid or 0 for p in daemon.cp.processes}
            state.save()
            log.info("host running", extra=kv(name=args.name, server=state.server))
            await daemon.supervise()
    except SubkubeError as exc:
        state.phase, state.error = "Failed", str(exc)
        log.error("host failed", extra=kv(error=str(exc)))
        code = 1
    finally:
        if state.phase != "Failed":
            state.phase = "Stopping"
        state.save()
        await daemon.cp.stop()
        if state.phase != "Failed":
            state.phase = "Stopped"
        state.pid = None
        state.components = {}
        state.save()
    return code


def main() -> None:
    parser = argparse.ArgumentParser(prog="subkube-host-daemon")
    parser.add_argument("--name", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--pods-per-node", type=int, default=110)
    parser.add_argument("--store", choices=["kine", "etcd"], default="kine")
    parser.add_argument("--service-cidr", default="10.96.0.0/12")
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("-v", "--verbose", action="count", default=1)
    args = parser.parse_args()
    sklog.configure(args.verbose)
    lock_path = host_dir(args.name) / "daemon.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"host {args.name} is already running", file=sys.stderr)
            sys.exit(2)
        sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
