"""Figures for snapshot and restore of a vcluster holding 1,000 objects.

Two levels: the store alone (capture while the control plane runs; putting it back in a new
data dir, as the runner does before it starts), for kine and etcd; and the CLI on a local
host (`subkube snapshot create`, `subkube restore` in place and as a new vcluster), which
adds stopping and starting the vcluster and its syncer.

Not a test: it prints numbers. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/snapshot.py [--objects 1000]
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from common import host_with_vcluster, run
from harness import SUBKUBE

from subkube.binaries.catalog import locate
from subkube.config.model import Config
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.spec import ControlPlaneSpec, Store
from subkube.snapshot import pending
from subkube.snapshot.capture import take


def configmaps(count: int) -> str:
    items = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "namespace": "default"},
            "data": {"value": "x" * 200},
        }
        for i in range(count)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def fill(kubeconfig: str, count: int, env: dict[str, str] | None = None) -> None:
    run(
        [str(locate("kubectl")), f"--kubeconfig={kubeconfig}", "apply", "-f", "-"],
        env or {},
        stdin=configmaps(count),
    )


async def store_level(store: Store, count: int) -> None:
    config = Config.model_validate(
        {"controlPlane": {"backingStore": {"etcd": {"embedded": {"enabled": store == "etcd"}}}}}
    )
    with tempfile.TemporaryDirectory() as tmp:
        spec = ControlPlaneSpec(name="bench", data_dir=Path(tmp) / "a", store=store)
        async with ControlPlane(spec) as cp:
            fill(str(cp.kubeconfig), count)
            started = time.monotonic()
            loc = await take(
                spec.data_dir, config, vcluster="bench", namespace="b", to=f"file://{tmp}/s/"
            )
            took = time.monotonic() - started
        size = Path(loc.path).stat().st_size / 1024
        other = ControlPlaneSpec(name="bench2", data_dir=Path(tmp) / "b", store=store)
        started = time.monotonic()
        pending.stage(Path(loc.path), other.data_dir, config)
        await pending.apply(other)
        put_back = time.monotonic() - started
    print(
        f"{store:5} store: capture while running {took:5.2f} s, archive {size:7.0f} KiB, "
        f"put back before start {put_back:5.2f} s"
    )


def cli_level(count: int) -> None:
    with host_with_vcluster("snapbench", nodes=1) as lab, tempfile.TemporaryDirectory() as tmp:
        fill(lab.vcluster_kubeconfig, count, lab.env)
        figures = []
        for what, args in (
            ("snapshot create", ["snapshot", "create", "bench", "-n", "tenant"]),
            ("restore in place", ["restore", "bench", "-n", "tenant"]),
            ("restore --as new", ["restore", "bench", "-n", "other", "--as", "copy"]),
        ):
            url = ["--to" if what.startswith("snapshot") else "--from", f"file://{tmp}/s.tar.gz"]
            started = time.monotonic()
            run([*SUBKUBE, *args, *url, *(["--no-connect"] if "restore" in what else [])], lab.env)
            figures.append(f"{what} {time.monotonic() - started:5.2f} s")
        run([*SUBKUBE, "delete", "copy", "-n", "other"], lab.env)
    print("kine, CLI (local driver): " + ", ".join(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.objects} ConfigMaps of 200 bytes, besides what a new cluster holds")
    for store in ("kine", "etcd"):
        asyncio.run(store_level(store, args.objects))
    cli_level(args.objects)


if __name__ == "__main__":
    main()
