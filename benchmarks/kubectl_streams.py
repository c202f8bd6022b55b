"""`kubectl logs`, `exec` and `port-forward` inside a vcluster against the same directly on
the host, in one run on one machine.

Not a test: it prints figures. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/kubectl_streams.py --calls 50 --megabytes 64

It starts a private local host, one pod directly on it and one inside a vcluster, then
times CALLS of `kubectl logs` and of `kubectl exec -- true` on each (interleaved, so both
sides see the same machine load), and pushes MEGABYTES through `kubectl port-forward` to the
pod's echo listener and back.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

from common import host_with_vcluster, run

from subkube.binaries.catalog import locate

POD = """apiVersion: v1
kind: Pod
metadata: {name: bench, namespace: default}
spec:
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
"""


def kubectl(kubeconfig: str) -> list[str]:
    return [str(locate("kubectl")), f"--kubeconfig={kubeconfig}"]


def start_pod(kubeconfig: str) -> None:
    run([*kubectl(kubeconfig), "apply", "-f", "-"], {}, stdin=POD)
    run(
        [*kubectl(kubeconfig), "wait", "--for=condition=Ready", "pod/bench", "--timeout=120s"],
        {},
    )


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def throughput(kubeconfig: str, megabytes: int) -> float:
    """MB/s through `kubectl port-forward` and the echo listener, both ways counted once."""
    with subprocess.Popen(
        [*kubectl(kubeconfig), "port-forward", "pod/bench", ":8080"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as forward:
        try:
            assert forward.stdout is not None
            line = forward.stdout.readline()
            found = re.search(r"127\.0\.0\.1:(\d+)", line)
            if found is None:
                raise SystemExit(f"port-forward did not start: {line}")
            chunk = os.urandom(1 << 20)
            total = megabytes * len(chunk)
            with socket.create_connection(("127.0.0.1", int(found.group(1)))) as conn:
                started = time.perf_counter()
                # Send from a thread while this one reads the echo, so neither side's
                # buffers fill up and stall the other.
                sender = threading.Thread(
                    target=lambda: [conn.sendall(chunk) for _ in range(megabytes)]
                )
                sender.start()
                received = 0
                while received < total:
                    data = conn.recv(1 << 20)
                    if not data:
                        raise SystemExit(f"the echo ended after {received} bytes")
                    received += len(data)
                sender.join()
                elapsed = time.perf_counter() - started
            return total / elapsed / 1e6
        finally:
            forward.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    with host_with_vcluster("streams") as lab:
        sides = {"host": lab.host_kubeconfig, "vcluster": lab.vcluster_kubeconfig}
        for kc in sides.values():
            start_pod(kc)
        timings: dict[tuple[str, str], list[float]] = {}
        commands = {
            "logs": ["logs", "bench"],
            "exec -- true": ["exec", "bench", "--", "true"],
        }
        for _ in range(args.calls):
            for what, cmd in commands.items():
                for side, kc in sides.items():
                    timings.setdefault((what, side), []).append(timed([*kubectl(kc), *cmd]))
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
        print(f"machine: {os.cpu_count()} cores, {memory_kb / 1024**2:.0f} GiB")
        print(f"{'call':<16}{'side':<10}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
        for (what, side), values in timings.items():
            print(
                f"{what:<16}{side:<10}{percentile(values, 0.5):>9.1f}"
                f"{percentile(values, 0.99):>9.1f}{statistics.fmean(values):>9.1f}"
            )
        for side, kc in sides.items():
            print(f"port-forward {side:<10}{throughput(kc, args.megabytes):>8.1f} MB/s")


if __name__ == "__main__":
    main()
