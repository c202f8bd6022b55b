"""The way into a vcluster that runs on the host (`--driver helm`): `kubectl port-forward` to
its Service (so to one of its pods, another when that one goes), kept up on one local port
across pod restarts, as a detached process.

The connected context points at that port, so it keeps working while the vcluster runs; the
forwarder stops with `subkube pause` and `subkube delete`.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from subkube.binaries.catalog import locate
from subkube.controlplane.process import die_with_parent
from subkube.errors import SubkubeError

MODULE = "subkube.lifecycle.forwarder"


def argv(
    *,
    state: Path,
    kubeconfig: str,
    context: str,
    namespace: str,
    resource: str,
    port: int,
    target: int,
) -> list[str]:
    args = [
        "--state",
        str(state),
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        namespace,
        "--resource",
        resource,
        "--port",
        str(port),
        "--target",
        str(target),
    ]
    return args + (["--context", context] if context else [])


def kubectl_argv(args: argparse.Namespace) -> list[str]:
    cmd = [
        str(locate("kubectl")),
        "port-forward",
        "--kubeconfig",
        args.kubeconfig,
        "--namespace",
        args.namespace,
        "--address",
        "127.0.0.1",
        args.resource,
        f"{args.port}:{args.target}",
    ]
    return cmd + (["--context", args.context] if args.context else [])


def still_wanted(state: Path) -> bool:
    """Whether the vcluster's state still names this process as its forwarder: a forwarder
    whose vcluster was deleted or given a new forwarder must not linger."""
    try:
        return json.loads(state.read_text()).get("forwarder_pid") == os.getpid()
    except (OSError, ValueError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(prog="subkube-forwarder")
    for flag in ("--state", "--kubeconfig", "--namespace", "--resource"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--context", default="")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    args = parser.parse_args()
    try:
        cmd = kubectl_argv(args)
    except SubkubeError as exc:
        sys.exit(f"error: {exc}")
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 0.5
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(os.getpid())
        )
        child.wait()
        if stopping or not still_wanted(Path(args.state)):
            break
        # The pod went away (restart, resume) or the API server hiccuped: forward again.
        backoff = 0.5 if time.monotonic() - started > 10 else min(backoff * 2, 2)
        print(f"port-forward ended ({child.returncode}); again in {backoff:.1f}s", flush=True)
        time.sleep(backoff)


if __name__ == "__main__":
    main()
