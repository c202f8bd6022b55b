"""The background process of a local vcluster (`subkube create --driver local`)."""

import argparse
from pathlib import Path

from subkube import daemonize
from subkube import log as sklog
from subkube.config.model import Config
from subkube.controlplane.controlplane import ControlPlane
from subkube.runner.sleep import Sleeper
from subkube.runner.state import VClusterState, vcluster_dir
from subkube.runner.vcluster import VCluster, VClusterConfig


async def run(args: argparse.Namespace) -> int:
    directory = vcluster_dir(args.namespace, args.name)
    state = VClusterState(
        name=args.name,
        namespace=args.namespace,
        host_kubeconfig=args.host_kubeconfig,
        host_context=args.host_context or "",
    )
    vc = VCluster(
        VClusterConfig(
            name=args.name,
            host_namespace=args.namespace,
            host_kubeconfig=Path(args.host_kubeconfig),
            host_context=args.host_context or None,
            data_dir=directory / "data",
            startup_timeout=args.timeout,
            config=Config.model_validate_json(Path(args.config).read_text()),
        )
    )
    return await serve(vc, state)


async def serve(vc: VCluster, state: VClusterState) -> int:
    """Run VC until told to stop, it sleeps, or it has lost its host; STATE says which."""

    async def start() -> ControlPlane:
        await vc.start()
        assert vc.control_plane is not None
        state.metrics = f"http://127.0.0.1:{vc.metrics_port}/metrics"
        state.server, state.kubeconfig = vc.server, str(vc.kubeconfig)
        return vc.control_plane

    what = f"vcluster {state.namespace}/{state.name}"
    return await daemonize.serve(state, what, start, vc.stop, Sleeper(vc, state), vc.lost)


def main() -> None:
    parser = argparse.ArgumentParser(prog="subkube-vcluster")
    parser.add_argument("--name", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--host-kubeconfig", required=True)
    parser.add_argument("--host-context", default="")
    parser.add_argument("--config", required=True, help="the effective config, as JSON")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("-v", "--verbose", action="count", default=1)
    args = parser.parse_args()
    sklog.configure(args.verbose)
    daemonize.run_locked(
        vcluster_dir(args.namespace, args.name) / "daemon.lock",
        f"vcluster {args.namespace}/{args.name}",
        lambda: run(args),
    )


if __name__ == "__main__":
    main()
