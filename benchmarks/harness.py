"""What every scenario shares: a private tuned local host with vclusters on it, the machine
described, figures printed and recorded in docs/performance.md, charts drawn.

A scenario measures; it never asserts. Figures that compare are taken in the same run.
"""

import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from subkube.cli.version import versions

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "performance.md"
CHARTS = ROOT / "docs" / "performance"
SUBKUBE = [sys.executable, "-m", "subkube"]

console = Console()


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    goal: str = ""

    def shown(self) -> str:
        whole = float(self.value).is_integer()
        digits = 0 if whole or abs(self.value) >= 100 else 1 if abs(self.value) >= 10 else 2
        return f"{self.value:.{digits}f} {self.unit}".strip()


@dataclass
class Report:
    """One scenario's result: its figures, the settings they were taken with, its chart."""

    scenario: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    chart: Path | None = None

    def add(self, name: str, value: float, unit: str, goal: str = "") -> None:
        self.figures.append(Figure(name, value, unit, goal))


def meminfo_gib(field: str) -> float:
    """A field of /proc/meminfo (MemTotal, MemAvailable…), in GiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024 / 1024
    raise KeyError(field)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    total_gib = meminfo_gib("MemTotal")
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    pinned = versions()
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{total_gib:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "subkube": pinned["subkube"],
        "kubernetes": pinned.get("kube-apiserver", ""),
    }


def show(report: Report) -> None:
    table = Table(title=f"{report.scenario}", show_lines=False)
    for column in ("figure", "value", "goal"):
        table.add_column(column)
    for fig in report.figures:
        table.add_row(fig.name, fig.shown(), fig.goal)
    console.print(table)
    for key, value in report.settings.items():
        console.print(f"  {key}: {value}", highlight=False)
    if report.chart:
        console.print(f"  chart: {report.chart.relative_to(ROOT)}", highlight=False)


def record(report: Report) -> None:
    """Append REPORT to docs/performance.md, with the machine and the command."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    lines = [
        "",
        f"### {report.scenario} — {when}",
        "",
        f"`{report.command}`",
        "",
        f"Code: {code_state()}.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in host.items()),
        "",
    ]
    for key, value in report.settings.items():
        lines.append(f"- {key}: {value}")
    if report.settings:
        lines.append("")
    lines += ["| figure | value | goal |", "|---|---|---|"]
    lines += [f"| {f.name} | {f.shown()} | {f.goal} |" for f in report.figures]
    if report.chart:
        lines += ["", f"![{report.scenario}]({report.chart.relative_to(RECORD.parent)})"]
    with RECORD.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def summary(reports: list[Report], failed: list[str]) -> Report:
    """One run of several scenarios: every figure that has a goal, beside it."""
    out = Report("every scenario, one run", command_line())
    for report in reports:
        for fig in report.figures:
            if fig.goal:
                out.add(f"{report.scenario}: {fig.name}", fig.value, fig.unit, fig.goal)
    out.settings["scenarios"] = "; ".join(f"`{r.command}`" for r in reports)
    if failed:
        out.settings["failed"] = ", ".join(failed)
    return out


# When this run began: its charts are named by it, so a later run never redraws an
# earlier entry's chart.
STARTED = dt.datetime.now(dt.UTC)


def chart_path(scenario: str) -> Path:
    CHARTS.mkdir(parents=True, exist_ok=True)
    return CHARTS / f"{scenario}-{STARTED:%Y%m%d-%H%M}.png"


def code_state() -> str:
    """The commit measured, and whether the code differed from it (the record and its
    charts, which every run changes, do not count)."""

    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=False)
        return res.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--", ".", ":!docs/performance.md", ":!docs/performance")
    return f"{commit} with uncommitted changes" if changed else commit


def command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def _status_mib(pid: int, path: str, fields: tuple[str, ...]) -> float:
    try:
        lines = Path(f"/proc/{pid}/{path}").read_text().splitlines()
    except OSError:
        return 0.0
    return sum(int(line.split()[1]) for line in lines if line.startswith(fields)) / 1024


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (0 once it is gone): with the pages of its
    binary and libraries, which every process running the same file shares."""
    return _status_mib(pid, "status", ("VmRSS:",))


def private_mib(pid: int) -> float:
    """Memory only this process holds, in MiB: what the machine gets back when it ends."""
    return _status_mib(pid, "smaps_rollup", ("Private_Clean:", "Private_Dirty:"))


TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    ppid: int
    name: str
    cpu_seconds: float


def processes() -> dict[int, Process]:
    """Every process on the machine, from /proc/<pid>/stat."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = _process(entry / "stat")
            except OSError:
                continue
    return out


def _process(stat: Path) -> Process:
    # The name sits in parentheses and may hold spaces and parentheses itself.
    head, _, rest = stat.read_text().rpartition(")")
    fields = rest.split()
    return Process(
        int(fields[1]), head.partition("(")[2], (int(fields[11]) + int(fields[12])) / TICKS
    )


def cpu_seconds(pid: int) -> float:
    """CPU one process has used, user and system, in seconds."""
    return _process(Path(f"/proc/{pid}/stat")).cpu_seconds


def tree(root: int, procs: dict[int, Process]) -> list[int]:
    """ROOT and every process below it, among PROCS."""
    children: dict[int, list[int]] = {}
    for pid, proc in procs.items():
        children.setdefault(proc.ppid, []).append(pid)
    out: list[int] = []
    todo = [root] if root in procs else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent on anything but idling, since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / TICKS


@dataclass
class CpuMeter:
    """CPU used by process trees (a host daemon, a runner, with their components), by
    process name. A component restarted in between is named: its old process's CPU is
    gone with it, so its share is then a floor."""

    roots: dict[str, int]
    started: dict[int, tuple[str, float]] = field(default_factory=dict)
    busy: float = 0.0

    def start(self) -> None:
        self.started, self.busy = self._snapshot(), machine_busy_seconds()

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        procs = processes()
        out: dict[int, tuple[str, float]] = {}
        for label, root in self.roots.items():
            for pid in tree(root, procs):
                name = label if pid == root else f"{label.split()[0]} {procs[pid].name}"
                out.setdefault(pid, (name, procs[pid].cpu_seconds))
        return out

    def used(self) -> tuple[float, dict[str, float], list[str]]:
        """Machine-wide busy CPU seconds since start(); the trees' CPU by process name, most
        first; the names whose process was replaced in between."""
        now = self._snapshot()
        by_name: dict[str, float] = {}
        for pid, (name, seconds) in now.items():
            by_name[name] = by_name.get(name, 0.0) + seconds - self.started.get(pid, ("", 0.0))[1]
        replaced = sorted({name for pid, (name, _) in self.started.items() if pid not in now})
        ordered = dict(sorted(by_name.items(), key=lambda item: -item[1]))
        return machine_busy_seconds() - self.busy, ordered, replaced


def cpu_shown(used: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in used.items() if seconds >= 0.1)


def cli(*args: str, env: dict[str, str], check: bool = True) -> str:
    res = subprocess.run(
        [*SUBKUBE, *args], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    if check and res.returncode != 0:
        raise SystemExit(f"subkube {' '.join(args)} failed:\n{res.stdout}{res.stderr}")
    return res.stdout


@dataclass
class Host:
    """A private local host; its vclusters are created with vcluster()."""

    name: str
    env: dict[str, str]
    kubeconfig: Path
    tuning: dict[str, dict[str, str]]

    def vcluster(self, name: str, namespace: str, *extra: str) -> "VCluster":
        started = time.monotonic()
        cli("create", name, "-n", namespace, "--no-connect", *extra, env=self.env)
        created_in = time.monotonic() - started
        kubeconfig = cli("kubeconfig", name, "-n", namespace, env=self.env).strip()
        return VCluster(name, namespace, Path(kubeconfig), self, created_in)

    @property
    def daemon_pid(self) -> int:
        path = Path(self.env["SUBKUBE_STATE_DIR"]) / "hosts" / self.name / "state.json"
        return int(json.loads(path.read_text())["pid"])

    def state_of(self, name: str, namespace: str) -> dict[str, Any]:
        path = Path(self.env["SUBKUBE_STATE_DIR"]) / "vclusters" / namespace / name
        return dict(json.loads((path / "state.json").read_text()))


@dataclass
class VCluster:
    name: str
    namespace: str
    kubeconfig: Path
    host: Host
    # Seconds `subkube create` took to return, the vcluster ready.
    created_in: float

    @property
    def state(self) -> dict[str, Any]:
        return self.host.state_of(self.name, self.namespace)

    @property
    def runner_pid(self) -> int:
        return int(self.state["pid"])

    def memory(self, measure: Callable[[int], float] = rss_mib) -> dict[str, float]:
        """MEASURE (RSS unless told), in MiB, of the runner (front door and syncer) and of
        each of its components."""
        state = self.state
        pids = {"runner": int(state["pid"]), **state["components"]}
        return {name: measure(pid) for name, pid in pids.items()}


@contextmanager
def host(name: str, nodes: int, pods_per_node: int = 1000, tuned: bool = True) -> Iterator[Host]:
    """A local host for the block, removed with its vclusters and data after it."""
    with tempfile.TemporaryDirectory(prefix="subkube-bench-") as state:
        env = {"SUBKUBE_STATE_DIR": state}
        args = ["--name", name, "--nodes", str(nodes), "--pods-per-node", str(pods_per_node)]
        try:
            with console.status(f"starting host {name} ({nodes} nodes)…"):
                cli("host", "up", *args, *(["--tuned"] if tuned else []), env=env)
            env["KUBECONFIG"] = cli("host", "kubeconfig", "--name", name, env=env).strip()
            status = json.loads((Path(state) / "hosts" / name / "state.json").read_text() or "{}")
            yield Host(name, env, Path(env["KUBECONFIG"]), status.get("tuning") or {})
        finally:
            with console.status(f"removing host {name}…"):
                listed = cli("list", "-o", "json", env=env, check=False)
                for row in json.loads(listed or "[]"):
                    cli("delete", row["name"], "-n", row["namespace"], env=env, check=False)
                cli("host", "down", "--name", name, "--purge", env=env, check=False)


def measured(title: str, nodes: int, measure: Callable[[Host, Report], Awaitable[None]]) -> Report:
    """A Report titled TITLE, filled by MEASURE on a private tuned host of NODES nodes (in
    one event loop), with the host's tuning among its settings."""
    report = Report(title, command_line())
    with host("bench", nodes=nodes) as h:
        report.settings["host tuning"] = tuning_setting(h)
        asyncio.run(measure(h, report))
    return report


def tuning_setting(h: Host) -> str:
    if not h.tuning:
        return "upstream defaults"
    return "; ".join(
        f"{component} " + " ".join(f"--{k}={v}" for k, v in flags.items())
        for component, flags in h.tuning.items()
    )


async def until(check: Callable[[], Awaitable[bool]], interval: float = 0.1) -> None:
    """Poll CHECK until it holds."""
    while True:
        if await check():
            return
        await asyncio.sleep(interval)


def percentile(values: list[float], p: float) -> float:
    """The P-th percentile (0 to 100) of VALUES, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
