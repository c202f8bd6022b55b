"""restart: the runner SIGKILLed with N pods synced, started again; how long until it serves,
and until its caches are rebuilt and nothing is queued, and whether every pod is still
there exactly once."""

import asyncio
import os
import signal
import time
import urllib.request
from contextlib import AsyncExitStack

from prometheus_client.parser import text_string_to_metric_families

from benchmarks import harness, workload
from benchmarks.clocks import clock_on
from subkube.daemonize import pid_alive
from subkube.kube.resource import PODS
from subkube.syncer import names

NAMESPACES = [f"restart-{i}" for i in range(10)]


def queued(metrics_url: str) -> float | None:
    """Keys waiting in every work queue of the syncer; None while it does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    families = {f.name: f for f in text_string_to_metric_families(text)}
    depth = families.get("subkube_queue_depth")
    return sum(s.value for s in depth.samples) if depth else None


async def measure(host: harness.Host, pods: int, report: harness.Report) -> None:
    vc = await asyncio.to_thread(host.vcluster, "bench", "tenant")
    async with AsyncExitStack() as stack:
        inside, virtual = await clock_on(stack, vc.kubeconfig, name="inside")
        await workload.spread(inside, pods, NAMESPACES)
        await virtual.wait_running(pods, timeout=max(600, pods / 5))
    state = vc.state
    os.kill(state["pid"], signal.SIGKILL)

    async def gone() -> bool:
        return not any(pid_alive(p) for p in [state["pid"], *state["components"].values()])

    await harness.until(gone)
    killed = time.monotonic()
    await asyncio.to_thread(
        harness.cli, "create", "bench", "-n", "tenant", "--no-connect", env=host.env
    )
    serving = time.monotonic() - killed
    url = vc.state["metrics"]

    async def drained() -> bool:
        return await asyncio.to_thread(queued, url) == 0

    await harness.until(drained)
    converged = time.monotonic() - killed
    async with AsyncExitStack() as stack:
        host_kube, _ = await clock_on(stack, host.kubeconfig, name="host")
        listed = await host_kube.list(
            PODS, "tenant", label_selector=f"{names.LABEL_MANAGED_BY}=bench"
        )
    copies = [p for p in listed["items"] if p["metadata"]["name"].startswith("load-")]
    report.add("start → serving again (control plane and syncer up)", serving, "s")
    report.add("start → caches rebuilt, nothing queued", converged, "s", "≤ 10 s at 10k pods")
    report.add("host pods of the workload afterwards", len(copies), "", f"= {pods}")


def run(pods: int) -> harness.Report:
    return harness.measured(
        f"restart, {pods} pods",
        max(10, pods // 500),
        lambda host, report: measure(host, pods, report),
    )
