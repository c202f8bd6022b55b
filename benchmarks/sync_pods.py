"""Pods through a vcluster against pods created directly on the host, in one run.

Not a test: it prints figures. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/sync_pods.py --pods 1000

It starts a private local host (kwok nodes), creates a Deployment of N pods directly on
the host and times them to Running, deletes it, then does the same inside a vcluster
(Running as seen inside), and reports the ratio and the syncer's memory.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import rss_mib

from subkube.binaries.catalog import locate

SUBKUBE = [sys.executable, "-m", "subkube"]


def run(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, env={**os.environ, **env}
    ).stdout


def running(kubeconfig: str, namespace: str) -> int:
    out = subprocess.run(
        [
            str(locate("kubectl")),
            f"--kubeconfig={kubeconfig}",
            "-n",
            namespace,
            "get",
            "pods",
            "--field-selector=status.phase=Running",
            "--no-headers",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return len(out.split())


def time_deployment(kubeconfig: str, namespace: str, pods: int, timeout: float) -> float:
    kubectl = [str(locate("kubectl")), f"--kubeconfig={kubeconfig}"]
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    started = time.monotonic()
    subprocess.run(
        [
            *kubectl,
            "-n",
            namespace,
            "create",
            "deployment",
            "bench",
            "--image=nginx",
            f"--replicas={pods}",
        ],
        check=True,
        capture_output=True,
    )
    while running(kubeconfig, namespace) < pods:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out: {running(kubeconfig, namespace)}/{pods} Running")
        time.sleep(1)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    nodes = max(3, args.pods // 100 + 1)
    with tempfile.TemporaryDirectory() as state:
        env = {"SUBKUBE_STATE_DIR": state}
        try:
            run(
                [
                    *SUBKUBE,
                    "host",
                    "up",
                    "--name",
                    "bench",
                    "--nodes",
                    str(nodes),
                    "--pods-per-node",
                    "200",
                ],
                env,
            )
            host_kc = run([*SUBKUBE, "host", "kubeconfig", "--name", "bench"], env).strip()
            direct = time_deployment(host_kc, "direct", args.pods, args.timeout)
            subprocess.run(
                [
                    str(locate("kubectl")),
                    f"--kubeconfig={host_kc}",
                    "delete",
                    "namespace",
                    "direct",
                    "--wait=true",
                    "--timeout=600s",
                ],
                check=True,
                capture_output=True,
            )
            env["KUBECONFIG"] = host_kc
            run([*SUBKUBE, "create", "bench", "-n", "tenant"], env)
            vc_kc = run([*SUBKUBE, "kubeconfig", "bench", "-n", "tenant"], env).strip()
            through = time_deployment(vc_kc, "work", args.pods, args.timeout)
            time.sleep(10)
            vstate = json.loads(
                (Path(state) / "vclusters" / "tenant" / "bench" / "state.json").read_text()
            )
            print(f"pods                                   {args.pods}")
            print(f"fake nodes                             {nodes}")
            print(f"direct on the host, to Running         {direct:.1f} s")
            print(f"through the vcluster, Running inside   {through:.1f} s")
            print(f"ratio vcluster / direct                {through / direct:.2f}")
            print(f"syncer process RSS                     {rss_mib(vstate['pid']):.0f} MiB")
            for name, pid in vstate["components"].items():
                print(f"virtual {name + ' RSS':<31}{rss_mib(pid):.0f} MiB")
        finally:
            subprocess.run(
                [*SUBKUBE, "delete", "bench", "-n", "tenant"],
                env={**os.environ, **env},
                capture_output=True,
                check=False,
            )
            subprocess.run(
                [*SUBKUBE, "host", "down", "--name", "bench", "--purge"],
                env={**os.environ, **env},
                capture_output=True,
                check=False,
            )


if __name__ == "__main__":
    main()
