"""density: vclusters started one after another on one host until a memory budget is used
or a count is reached, then ten at once; each one's `create` → ready time and its idle
memory by process."""

import asyncio
import statistics

from benchmarks import charts, harness

SETTLE = 30.0
# How long their idle CPU is measured over.
IDLE_WINDOW = 30.0
# Left to the rest of the machine whatever the budget says.
RESERVE_GIB = 2.0


async def measure(host: harness.Host, budget_gib: float, most: int, report: harness.Report) -> None:
    made: list[harness.VCluster] = []
    sequential: list[float] = []
    available = free = harness.meminfo_gib("MemAvailable")
    while len(made) < most and available - free < budget_gib and free > RESERVE_GIB:
        i = len(made)
        vc = await asyncio.to_thread(host.vcluster, f"d{i}", f"dens-{i}")
        made.append(vc)
        sequential.append(vc.created_in)
        free = harness.meminfo_gib("MemAvailable")
    await asyncio.sleep(SETTLE)
    meter = harness.CpuMeter({vc.name: vc.runner_pid for vc in made})
    meter.start()
    await asyncio.sleep(IDLE_WINDOW)
    busy, by_tree, _ = meter.used()
    idle_cpu: dict[str, float] = {}
    for name, seconds in by_tree.items():
        process = name.partition(" ")[2] or "runner"
        idle_cpu[process] = idle_cpu.get(process, 0.0) + seconds / IDLE_WINDOW / len(made)
    taken = available - harness.meminfo_gib("MemAvailable")
    idle = [v.memory() for v in made]
    private = [v.memory(harness.private_mib) for v in made]
    by_process = {name: statistics.mean(m[name] for m in idle) for name in idle[0]}
    at_once: list[float] = []
    if harness.meminfo_gib("MemAvailable") > RESERVE_GIB + 10 * sum(by_process.values()) / 1024:
        batch = len(made)
        together = await asyncio.gather(
            *(
                asyncio.to_thread(host.vcluster, f"c{i}", f"dens-c{i}")
                for i in range(batch, batch + 10)
            )
        )
        at_once = [vc.created_in for vc in together]
    report.add("vclusters started one after another", len(made), "")
    report.add("memory the machine gave them, idle", taken, "GiB")
    report.add("the same, per vcluster", taken * 1024 / len(made), "MiB")
    report.add("their RSS added up, idle", sum(sum(m.values()) for m in idle) / 1024, "GiB")
    for name, mib in by_process.items():
        report.add(f"idle RSS per vcluster, {name}", mib, "MiB")
    report.add("idle RSS per vcluster, whole", sum(by_process.values()), "MiB", "≤ 300 MiB")
    report.add(
        "idle private memory per vcluster, whole",
        statistics.mean(sum(m.values()) for m in private),
        "MiB",
    )
    for process, cores in idle_cpu.items():
        report.add(f"idle CPU per vcluster, {process}", cores * 100, "% of a core")
    report.add("idle CPU per vcluster, whole", sum(idle_cpu.values()) * 100, "% of a core")
    report.add("machine busy while they idle", busy / IDLE_WINDOW, "cores")
    report.add("create → ready, one after another, p50", harness.percentile(sequential, 50), "s")
    report.add(
        "create → ready, one after another, p95", harness.percentile(sequential, 95), "s", "≤ 5 s"
    )
    if at_once:
        report.add("create → ready, 10 at once, p50", harness.percentile(at_once, 50), "s")
        report.add("create → ready, 10 at once, p95", harness.percentile(at_once, 95), "s")
    report.chart = charts.bars(
        harness.chart_path("density"), "idle RSS of one vcluster, by process", by_process, "MiB"
    )


def run(budget_gib: float, most: int) -> harness.Report:
    async def measure_on(host: harness.Host, report: harness.Report) -> None:
        report.settings["budget"] = f"{budget_gib:g} GiB or {most} vclusters"
        await measure(host, budget_gib, most, report)

    return harness.measured("density", 3, measure_on)
