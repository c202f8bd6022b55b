"""Figures for the foundation: binary build times, host start-up time, idle memory.

Not a test: it prints numbers. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/foundation.py            # warm figures only
    .venv/bin/python benchmarks/foundation.py --cold     # also a cold build (10-25 min)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import rss_mib

SUBKUBE = [sys.executable, "-m", "subkube"]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    subprocess.run(
        cmd,
        check=True,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--cold", action="store_true", help="also build everything with empty Go and subkube caches"
    )
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds idle before RSS")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []

    if args.cold:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "SUBKUBE_CACHE_DIR": f"{tmp}/cache",
                "GOCACHE": f"{tmp}/gocache",
                "GOMODCACHE": f"{tmp}/gomod",
                "GOFLAGS": "-modcacherw",
            }
            cold = timed([*SUBKUBE, "binaries", "install"], env)
            rows.append(("cold build of all binaries (empty Go caches)", f"{cold:.0f} s"))
            subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
    rows.append(
        ("warm `subkube binaries install`", f"{timed([*SUBKUBE, 'binaries', 'install']):.1f} s")
    )
    rows.append(("warm `make setup` (pip + binaries)", f"{timed(['make', 'setup']):.1f} s"))

    with tempfile.TemporaryDirectory() as state:
        env = {"SUBKUBE_STATE_DIR": state}
        try:
            first = timed(
                [*SUBKUBE, "host", "up", "--name", "bench", "--nodes", str(args.nodes)], env
            )
            rows.append((f"`host up` to {args.nodes} nodes Ready (new data dir)", f"{first:.1f} s"))
            time.sleep(args.idle)
            data = json.loads((Path(state) / "hosts" / "bench" / "state.json").read_text())
            rows.append(("daemon (Python) RSS at idle", f"{rss_mib(data['pid']):.0f} MiB"))
            for name, pid in data["components"].items():
                rows.append((f"{name} RSS at idle", f"{rss_mib(pid):.0f} MiB"))
            timed([*SUBKUBE, "host", "down", "--name", "bench"], env)
            again = timed(
                [*SUBKUBE, "host", "up", "--name", "bench", "--nodes", str(args.nodes)], env
            )
            rows.append(("`host up` again on the same data dir", f"{again:.1f} s"))
        finally:
            subprocess.run(
                [*SUBKUBE, "host", "down", "--name", "bench", "--purge"],
                env={**os.environ, **env},
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
