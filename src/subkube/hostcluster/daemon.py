"""The background process of a local host: control plane + scheduler + kwok + fake nodes,
and what kwok does not do alone: files, exec and port-forward for its pods, a runtime for the
subkube image's pods, a storage provisioner.

Started detached by `subkube host up`; its children die with it (see controlplane.process).
It records its progress in state.json, stops everything on SIGTERM, and restarts a component
that crashes.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import sysconfig
import time
from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from subkube import daemonize
from subkube import log as sklog
from subkube.binaries.catalog import locate
from subkube.binaries.gobuild import KWOK_CRDS, KWOK_CRDS_FILE, KWOK_STAGES_FILE
from subkube.controlplane import kwok
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.health import wait_until_healthy
from subkube.controlplane.ports import remembered_port
from subkube.controlplane.process import Process
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.errors import SubkubeError
from subkube.hostcluster import engine, tuning
from subkube.hostcluster.provisioner import Provisioner
from subkube.hostcluster.runtime import LocalRuntime
from subkube.hostcluster.simulation import PodSimulator
from subkube.hostcluster.state import HostState, host_dir
from subkube.kube.client import connect
from subkube.kube.resource import NODES, Resource
from subkube.kube.rest import ApiError, Kube, Obj

log = logging.getLogger("subkube.host")


KWOK_NODES = "type=kwok"


def ready_nodes(nodes: Obj) -> int:
    """How many nodes of a NodeList are Ready."""
    return sum(
        1
        for n in nodes.get("items") or []
        for c in n.get("status", {}).get("conditions") or []
        if c.get("type") == "Ready" and c.get("status") == "True"
    )


def node_name(i: int) -> str:
    return f"kwok-node-{i}"


async def ensure_nodes(kubeconfig: Path, count: int, pods_per_node: int) -> None:
    """Exactly COUNT fake nodes: create the missing ones, remove extra ones from a larger run."""
    async with connect(kubeconfig) as api:
        kube = Kube(api)
        existing = await kube.list(NODES, label_selector=KWOK_NODES)
        have = {n["metadata"]["name"] for n in existing["items"]}
        want = {node_name(i) for i in range(count)}
        for name in sorted(want - have):
            with contextlib.suppress(ApiError):
                await kube.create(NODES, kwok.node_manifest(name, pods=pods_per_node))
        for name in sorted(have - want):
            await kube.delete(NODES, name)


async def wait_nodes_ready(kubeconfig: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    ready = 0
    async with connect(kubeconfig) as api:
        kube = Kube(api)
        while time.monotonic() < deadline:
            ready = ready_nodes(await kube.list(NODES, label_selector=KWOK_NODES))
            if ready >= count:
                return
            await asyncio.sleep(0.5)
    raise SubkubeError(
        f"only {ready} of {count} kwok nodes became Ready within {timeout:.0f}s; see the kwok log"
    )


CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)


async def apply_crds(kube: Kube, manifests: str, timeout: float) -> None:
    """Create or update the CRDs and wait until they are served (kwok watches them at start)."""
    names = []
    for crd in yaml.safe_load_all(manifests):
        if not crd:
            continue
        names.append(crd["metadata"]["name"])
        await kube.apply(CRDS, crd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crds = [await kube.get(CRDS, n) for n in names]
        if all(
            any(
                c["type"] == "Established" and c["status"] == "True"
                for c in crd.get("status", {}).get("conditions") or []
            )
            for crd in crds
        ):
            return
        await asyncio.sleep(0.2)
    raise SubkubeError(f"CRDs {', '.join(names)} were not established within {timeout:.0f}s")


class HostDaemon:
    def __init__(
        self, spec: ControlPlaneSpec, nodes: int, pods_per_node: int, runs_in: engine.Engine
    ) -> None:
        self.spec = spec
        self.runs_in = runs_in
        self.nodes = nodes
        self.pods_per_node = pods_per_node
        self.cp = ControlPlane(spec)
        self.kwok: Process | None = None
        self.stack = AsyncExitStack()

    async def start(self) -> None:
        await self.cp.start()
        api = await self.stack.enter_async_context(connect(self.cp.kubeconfig))
        kube = Kube(api)
        await apply_crds(
            kube,
            locate(KWOK_CRDS_FILE, executable=False).read_text(),
            self.spec.startup_timeout,
        )
        home = self.spec.data_dir.parent
        simulator = PodSimulator(kube, home)
        self.stack.push_async_callback(simulator.stop)
        await simulator.start()
        stages = self.spec.data_dir / KWOK_STAGES_FILE
        stages.write_text(
            kwok.stage_config(
                locate(KWOK_STAGES_FILE, executable=False).read_text(),
                resources.files("subkube.hostcluster").joinpath("job-stages.yaml").read_text(),
            )
        )
        kwok_port = remembered_port(self.spec.data_dir / "kwok-port")
        self.kwok = self.cp.add_process(
            "kwok",
            kwok.argv(
                locate("kwok"),
                stages,
                self.cp.kubeconfig,
                kwok_port,
                self.spec.cluster_cidr,
                KWOK_CRDS,
            ),
        )
        await self.kwok.start()
        await wait_until_healthy(
            self.kwok, kwok.health_url(kwok_port), timeout=self.spec.startup_timeout
        )
        await ensure_nodes(self.cp.kubeconfig, self.nodes, self.pods_per_node)
        await wait_nodes_ready(self.cp.kubeconfig, self.nodes, self.spec.startup_timeout)
        provisioner = Provisioner(kube, home / "volumes")
        await provisioner.start()
        self.stack.push_async_callback(provisioner.stop)
        runtime = LocalRuntime(kube, home, urlsplit(self.cp.server).port or 443, self.runs_in)
        await runtime.start()
        self.stack.push_async_callback(runtime.stop)

    async def stop(self) -> None:
        # The runtime's pods first: a vcluster stopping still talks to this API server.
        await self.stack.aclose()
        await self.cp.stop()


async def run(args: argparse.Namespace) -> int:
    runs_in = engine.choose(args.runtime)
    extra = tuning.flags(args.tuned)
    state = HostState(
        name=args.name,
        nodes=args.nodes,
        store=args.store,
        runtime=engine.describe(runs_in),
        tuning=extra,
    )
    spec = ControlPlaneSpec(
        name=args.name,
        data_dir=host_dir(args.name) / "data",
        store=args.store,
        scheduler=True,
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        startup_timeout=args.timeout,
        apiserver_extra_args=extra.get("kube-apiserver", {}),
        controller_manager_extra_args=extra.get("kube-controller-manager", {}),
        scheduler_extra_args=extra.get("kube-scheduler", {}),
    )
    daemon = HostDaemon(spec, args.nodes, args.pods_per_node, runs_in)

    async def start() -> ControlPlane:
        await daemon.start()
        return daemon.cp

    return await daemonize.serve(state, f"host {args.name}", start, daemon.stop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="subkube-host-daemon")
    parser.add_argument("--name", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--pods-per-node", type=int, default=110)
    parser.add_argument("--store", choices=["kine", "etcd"], default="kine")
    parser.add_argument("--service-cidr", default="10.96.0.0/12")
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--runtime", choices=["auto", *engine.Engine], default="auto")
    parser.add_argument("--tuned", action="store_true")
    parser.add_argument("-v", "--verbose", action="count", default=1)
    args = parser.parse_args()
    sklog.configure(args.verbose)
    # The image has `subkube` on its PATH: `kubectl exec POD -- subkube …` into a pod of the
    # local runtime (kwok runs the command, with this PATH) finds this installation's.
    os.environ["PATH"] = os.pathsep.join((sysconfig.get_path("scripts"), os.environ["PATH"]))
    daemonize.run_locked(
        host_dir(args.name) / "daemon.lock", f"host {args.name}", lambda: run(args)
    )


if __name__ == "__main__":
    main()
