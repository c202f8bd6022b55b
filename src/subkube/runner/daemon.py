"""The background process of a local vcluster (`subkube create --driver local`)."""

import argparse
import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path

from subkube import log as sklog
from subkube.errors import SubkubeError
from subkube.runner.state import VClusterState, vcluster_dir
from subkube.runner.vcluster import VCluster, VClusterConfig
from subkube.syncer.syncer import SyncOptions

log = logging.getLogger("subkube.vcluster")


async def run(args: argparse.Namespace) -> int:
    directory = vcluster_dir(args.namespace, args.name)
    state = VClusterState(
        name=args.name,
        namespace=args.namespace,
        phase="Starting",
        pid=os.getpid(),
        host_kubeconfig=args.host_kubeconfig,
        host_context=args.host_context or "",
    )
    state.save()
    vc = VCluster(
        VClusterConfig(
            name=args.name,
            host_namespace=args.namespace,
            host_kubeconfig=Path(args.host_kubeconfig),
            host_context=args.host_context or None,
            data_dir=directory / "data",
            store=args.store,
            startup_timeout=args.timeout,
            sync=SyncOptions(
                configmaps_all=args.sync_all_configmaps, secrets_all=args.sync_all_secrets
            ),
        )
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    code = 0
    try:
        starting = asyncio.ensure_future(vc.start())
        waiter = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        else:
            waiter.cancel()
            starting.result()
            assert vc.control_plane is not None
            state.phase = "Running"
            state.kubeconfig = str(vc.control_plane.kubeconfig)
            state.server = vc.control_plane.server
            state.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            state.components = {p.name: p.pid or 0 for p in vc.control_plane.processes}
            state.save()
            await stopping.wait()
    except SubkubeError as exc:
        state.phase, state.error = "Failed", str(exc)
        log.error("vcluster failed", extra=sklog.kv(error=str(exc)))
        code = 1
    finally:
        if state.phase != "Failed":
            state.phase = "Stopping"
            state.save()
        await vc.stop()
        if state.phase != "Failed":
            state.phase = "Stopped"
        state.pid = None
        state.components = {}
        state.save()
    return code


def main() -> None:
    parser = argparse.ArgumentParser(prog="subkube-vcluster")
    parser.add_argument("--name", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--host-kubeconfig", required=True)
    parser.add_argument("--host-context", default="")
    parser.add_argument("--store", choices=["kine", "etcd"], default="kine")
    parser.add_argument("--sync-all-configmaps", action="store_true")
    parser.add_argument("--sync-all-secrets", action="store_true")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("-v", "--verbose", action="count", default=1)
    args = parser.parse_args()
    sklog.configure(args.verbose)
    lock_path = vcluster_dir(args.namespace, args.name) / "daemon.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"vcluster {args.namespace}/{args.name} is already running", file=sys.stderr)
            sys.exit(2)
        sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
