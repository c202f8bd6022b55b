"""memory: the runner's resident memory (syncer, front door, kubelet endpoint: one Python
process) with no pods and at each step of synced pods, and what each pod costs."""

import asyncio
from contextlib import AsyncExitStack

from benchmarks import charts, harness, workload
from benchmarks.clocks import clock_on

NAMESPACES = [f"mem-{i}" for i in range(10)]
SETTLE = 10.0


async def measure(host: harness.Host, steps: list[int], report: harness.Report) -> None:
    vc = await asyncio.to_thread(host.vcluster, "bench", "tenant")
    await asyncio.sleep(SETTLE)
    idle, private = vc.memory(), vc.memory(harness.private_mib)
    points = [(0, idle["runner"])]
    async with AsyncExitStack() as stack:
        inside, virtual = await clock_on(stack, vc.kubeconfig, name="inside")
        for pods in steps:
            await workload.spread(inside, pods, NAMESPACES)
            await virtual.wait_running(pods, timeout=max(600, pods / 5))
            await asyncio.sleep(SETTLE)
            points.append((pods, vc.memory()["runner"]))
    for name, mib in idle.items():
        report.add(f"idle RSS, {name}", mib, "MiB")
    report.add("idle RSS, whole vcluster", sum(idle.values()), "MiB", "≤ 300 MiB")
    for name, mib in private.items():
        report.add(f"idle private memory, {name}", mib, "MiB")
    report.add("idle private memory, whole vcluster", sum(private.values()), "MiB")
    for pods, mib in points[1:]:
        report.add(f"runner RSS at {pods} pods", mib, "MiB")
    top_pods, top = points[-1]
    per_pod = (top - points[0][1]) * 1024 * 1024 / top_pods / 1000
    report.add(f"per synced pod (0 → {top_pods})", per_pod, "KB", "≤ 20 KB")
    report.chart = charts.memory_against_pods(
        harness.chart_path("memory"), "the runner's RSS against synced pods", points
    )


def run(steps: list[int]) -> harness.Report:
    return harness.measured(
        "memory",
        max(10, max(steps) // 500),
        lambda host, report: measure(host, sorted(steps), report),
    )
