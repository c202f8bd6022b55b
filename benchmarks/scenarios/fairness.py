"""fairness: a small tenant creating a few pods while a greedy one floods the syncer, first
as two vclusters on one host, then as two namespaces of one vcluster. The small tenant's
time from create to host pod is what counts."""

import asyncio
import time
from contextlib import AsyncExitStack

from benchmarks import charts, harness, workload
from benchmarks.clocks import Key, PodClock, clock_on
from benchmarks.scenarios.latency import pod
from subkube.kube.resource import PODS
from subkube.kube.rest import Kube

FEW = 10


async def few_pods(kube: Kube, namespace: str, on_host: PodClock) -> list[float]:
    """FEW pods created one every 100 ms in NAMESPACE (made ready beforehand); each one's ms
    until it is on the host."""
    created: dict[Key, float] = {}
    for i in range(FEW):
        await kube.create(PODS, pod(f"few-{i}", namespace), namespace)
        created[(namespace, f"few-{i}")] = time.monotonic()
        await asyncio.sleep(0.1)

    async def arrived() -> bool:
        return created.keys() <= on_host.seen.keys()

    await asyncio.wait_for(harness.until(arrived, 0.02), 600)
    return [1000 * (on_host.seen[k] - at) for k, at in created.items()]


async def flood_then_few(
    flood: tuple[Kube, list[str], int], few: tuple[Kube, str], on_host: PodClock
) -> list[float]:
    """FLOOD (a client, its namespaces, how many pods) starts; once it is under way, the few
    pods of FEW (a client, its namespace) follow."""
    flood_kube, flood_namespaces, count = flood
    await workload.spread(flood_kube, count, flood_namespaces)

    # Once the flood is under way: its first pods are on the host.
    async def under_way() -> bool:
        return len(on_host.seen) >= min(50, count)

    await harness.until(under_way, 0.02)
    return await few_pods(*few, on_host)


async def measure(host: harness.Host, flood: int, report: harness.Report) -> None:
    greedy = await asyncio.to_thread(host.vcluster, "greedy", "tenant-a")
    small = await asyncio.to_thread(host.vcluster, "small", "tenant-b")
    async with AsyncExitStack() as stack:
        _, on_host = await clock_on(stack, host.kubeconfig, name="host")
        greedy_kube, _ = await clock_on(stack, greedy.kubeconfig, name="greedy")
        small_kube, _ = await clock_on(stack, small.kubeconfig, name="small")
        floods = [f"flood-{i}" for i in range(10)]
        # The small tenant's namespaces exist before anything floods: what is measured is
        # the syncer's queue, not a new namespace's setup under load.
        for namespace in ("few", "few-again"):
            await workload.ready_namespace(small_kube, namespace)
        across = await flood_then_few((greedy_kube, floods, flood), (small_kube, "few"), on_host)
        # The same within one vcluster: one namespace floods, another creates a few.
        on_host.reset()
        within = await flood_then_few(
            (small_kube, ["flood"], flood), (small_kube, "few-again"), on_host
        )
    for label, values in (
        ("another vcluster floods", across),
        ("another namespace floods", within),
    ):
        report.add(f"small tenant to host, p50, {label}", harness.percentile(values, 50), "ms")
        report.add(
            f"small tenant to host, p99, {label}", harness.percentile(values, 99), "ms", "≤ 2000 ms"
        )
    report.chart = charts.latency_percentiles(
        harness.chart_path("fairness"),
        f"{FEW} pods of a small tenant while {flood} pods flood",
        {"across vclusters": across, "across namespaces": within},
    )


def run(flood: int) -> harness.Report:
    return harness.measured(
        f"fairness, {flood}-pod flood",
        max(10, flood // 250),
        lambda host, report: measure(host, flood, report),
    )
