"""latency: a steady stream of pods created inside a vcluster, each timed from its virtual
create to its host copy existing, and from the host copy Running to the virtual pod
Running."""

import asyncio
import time
from contextlib import AsyncExitStack

from benchmarks import charts, harness, workload
from benchmarks.clocks import Key, clock_on
from subkube.kube.resource import PODS
from subkube.syncer import names

NAMESPACE = "steady"


def pod(name: str, namespace: str = NAMESPACE) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


async def measure(host: harness.Host, rate: float, seconds: float, report: harness.Report) -> None:
    vc = await asyncio.to_thread(host.vcluster, "bench", "tenant")
    async with AsyncExitStack() as stack:
        _, on_host = await clock_on(
            stack, host.kubeconfig, label_selector=f"{names.LABEL_MANAGED_BY}=bench", name="host"
        )
        inside, virtual = await clock_on(stack, vc.kubeconfig, name="inside")
        await workload.ensure_namespaces(inside, [NAMESPACE])
        created: dict[Key, float] = {}
        count = int(rate * seconds)
        started = time.monotonic()
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            name = f"p{i:05d}"
            await inside.create(PODS, pod(name), NAMESPACE)
            created[(NAMESPACE, name)] = time.monotonic()
        took = time.monotonic() - started
        await virtual.wait_running(count, timeout=600, keys=set(created))
        to_host = [1000 * (on_host.seen[k] - at) for k, at in created.items() if k in on_host.seen]
        back = [
            1000 * (virtual.running[k] - on_host.running[k])
            for k in created
            if k in virtual.running and k in on_host.running
        ]
    report.settings["stream"] = f"{count} pods at {count / took:.1f}/s (asked {rate:g}/s)"
    for label, values, goal in (
        ("virtual create → host pod exists", to_host, ("≤ 20 ms", "≤ 100 ms")),
        ("host Running → virtual Running", back, ("", "")),
    ):
        report.add(f"{label}, p50", harness.percentile(values, 50), "ms", goal[0])
        report.add(f"{label}, p99", harness.percentile(values, 99), "ms", goal[1])
        report.add(f"{label}, max", max(values, default=float("nan")), "ms")
    report.chart = charts.latency_percentiles(
        harness.chart_path("latency"),
        f"{count} pods at {rate:g}/s",
        {"create → on host": to_host, "Running on host → Running inside": back},
    )


def run(rate: float, seconds: float) -> harness.Report:
    return harness.measured(
        "latency", 10, lambda host, report: measure(host, rate, seconds, report)
    )
