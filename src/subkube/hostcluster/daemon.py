"""The background process of a local host: control plane + scheduler + kwok + fake nodes.

Started detached by `subkube host up`; its children die with it (see controlplane.process).
It records its progress in state.json, stops everything on SIGTERM, and restarts a component
that crashes.
"""

import argparse
import asyncio
import contextlib
import logging
import time
from pathlib import Path

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from subkube import daemonize
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

log = logging.getLogger("subkube.host")


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
    def __init__(self, spec: ControlPlaneSpec, nodes: int, pods_per_node: int) -> None:
        self.spec = spec
        self.nodes = nodes
        self.pods_per_node = pods_per_node
        self.cp = ControlPlane(spec)
        self.kwok: Process | None = None

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
        await ensure_nodes(self.cp.kubeconfig, self.nodes, self.pods_per_node)
        await wait_nodes_ready(self.cp.kubeconfig, self.nodes, self.spec.startup_timeout)


async def run(args: argparse.Namespace) -> int:
    state = HostState(name=args.name, nodes=args.nodes, store=args.store)
    spec = ControlPlaneSpec(
        name=args.name,
        data_dir=host_dir(args.name) / "data",
        store=args.store,
        scheduler=True,
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        startup_timeout=args.timeout,
    )
    daemon = HostDaemon(spec, args.nodes, args.pods_per_node)

    async def start() -> ControlPlane:
        await daemon.start()
        return daemon.cp

    return await daemonize.serve(state, f"host {args.name}", start, daemon.cp.stop)


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
    daemonize.run_locked(
        host_dir(args.name) / "daemon.lock", f"host {args.name}", lambda: run(args)
    )


if __name__ == "__main__":
    main()
