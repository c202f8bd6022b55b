"""burst: N pods as Deployments across namespaces, Running directly on the host against
Running inside a vcluster on the same host, one after the other in one run."""

import asyncio
import time
from contextlib import AsyncExitStack

from benchmarks import charts, harness, workload
from benchmarks.clocks import PodClock, clock_on
from subkube.kube.rest import Kube


async def _burst(kube: Kube, clock: PodClock, pods: int, namespaces: list[str]) -> list[float]:
    """Seconds from the first create to each pod Running."""
    clock.reset()
    started = time.monotonic()
    await workload.spread(kube, pods, namespaces)
    await clock.wait_running(pods, timeout=max(600, pods / 5))
    return sorted(at - started for at in clock.running.values())


async def measure(host: harness.Host, pods: int, namespaces: int, report: harness.Report) -> None:
    names = [f"burst-{i}" for i in range(namespaces)]
    # What each side spent on the burst: on a machine whose cores the host and the
    # vcluster share, the CPU each pod costs bounds the ratio.
    meter = harness.CpuMeter({"host daemon": host.daemon_pid})
    async with AsyncExitStack() as stack:
        host_kube, host_clock = await clock_on(stack, host.kubeconfig, name="direct")
        meter.start()
        direct = await _burst(host_kube, host_clock, pods, names)
        direct_cpu = meter.used()
        await workload.remove_namespaces(host_kube, names)
        vc = await asyncio.to_thread(host.vcluster, "bench", "tenant")
        meter.roots["vcluster runner"] = vc.runner_pid
        inside_kube, inside_clock = await clock_on(stack, vc.kubeconfig, name="inside")
        meter.start()
        through = await _burst(inside_kube, inside_clock, pods, names)
        through_cpu = meter.used()
        memory = vc.memory()
    report.add("directly on the host, all Running", direct[-1], "s")
    report.add("through the vcluster, all Running inside", through[-1], "s")
    report.add("ratio vcluster / direct", through[-1] / direct[-1], "", "≤ 1.10 at 10k pods")
    sides = (("directly", direct, direct_cpu), ("through the vcluster", through, through_cpu))
    for how, seconds, (busy, by_name, replaced) in sides:
        report.add(f"CPU per pod (whole machine), {how}", busy / pods * 1000, "ms")
        report.add(f"cores busy, {how}", busy / seconds[-1], "")
        report.settings[f"CPU {how}"] = harness.cpu_shown(by_name)
        if replaced:
            report.settings[f"restarted during the burst, {how}"] = ", ".join(replaced)
    report.add("CPU ratio vcluster / direct", through_cpu[0] / direct_cpu[0], "")
    report.add("syncer (runner) RSS after", memory["runner"], "MiB")
    report.chart = charts.running_over_time(
        harness.chart_path(f"burst-{pods}"),
        f"{pods} pods in {namespaces} namespaces",
        {"directly on the host": direct, "through a vcluster": through},
    )


def run(pods: int, namespaces: int) -> harness.Report:
    nodes = max(10, pods // 500)

    async def measure_on(host: harness.Host, report: harness.Report) -> None:
        report.settings["nodes"] = f"{nodes} kwok nodes"
        await measure(host, pods, namespaces, report)

    return harness.measured(f"burst, {pods} pods", nodes, measure_on)
