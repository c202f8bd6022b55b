"""Figures for sleep and wake: what a sleeping vcluster keeps in memory against an awake idle
one, and how long the first request after sleep takes to be answered.

Not a test: it prints numbers. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/sleep.py [--wakes 10] [--idle 30]
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from common import host_with_vcluster, run
from harness import SUBKUBE, processes, rss_mib, tree

from subkube.runner.sleep import wake


def resident(pid: int) -> tuple[float, list[tuple[str, float]]]:
    """The RSS of PID's whole process tree, in MiB, and each process's."""
    parts = []
    for p in tree(pid, processes()):
        try:
            argv = [a.decode() for a in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") if a]
            label = Path(argv[0]).name
            if "-m" in argv:
                label = f"python -m {argv[argv.index('-m') + 1]}"
            parts.append((label, rss_mib(p)))
        except (OSError, IndexError):
            continue
    return sum(r for _, r in parts), parts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wakes", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds idle before RSS")
    args = parser.parse_args()
    with host_with_vcluster("sleepbench", nodes=1) as lab:
        state_path = lab.state / "vclusters" / "tenant" / "bench" / "state.json"

        def state() -> dict[str, object]:
            return dict(json.loads(state_path.read_text()))

        def runner() -> int:
            return int(state()["pid"])  # type: ignore[call-overload]

        time.sleep(args.idle)
        awake, awake_parts = resident(runner())
        sleep = [*SUBKUBE, "sleep", "bench", "-n", "tenant"]
        run(sleep, lab.env)
        time.sleep(2)
        asleep, asleep_parts = resident(runner())

        latencies = []
        for _ in range(args.wakes):
            if state()["phase"] != "Sleeping":
                run(sleep, lab.env)
            latencies.append(asyncio.run(wake(Path(lab.vcluster_kubeconfig))))
            while state()["phase"] != "Running":
                time.sleep(0.2)

    print("## Sleep and wake (one local vcluster, 1 kwok node)\n")
    print("| figure | value |")
    print("|---|---|")
    print(f"| awake, idle {args.idle:.0f} s: RSS of all its processes | {awake:.0f} MiB |")
    for label, mib in awake_parts:
        print(f"| … {label} | {mib:.0f} MiB |")
    print(f"| asleep: RSS of all its processes | {asleep:.1f} MiB |")
    for label, mib in asleep_parts:
        print(f"| … {label} | {mib:.1f} MiB |")
    print(
        f"| wake: first request sent → answered, p50 over {len(latencies)} | "
        f"{statistics.median(latencies):.2f} s |"
    )
    print(f"| wake: max | {max(latencies):.2f} s |")


if __name__ == "__main__":
    main()
