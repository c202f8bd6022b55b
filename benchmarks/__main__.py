"""`python -m benchmarks`: the one entry point of the benchmarks.

python -m benchmarks list
python -m benchmarks run burst --pods 1000
python -m benchmarks run all                    # every scenario at full size, one run
python -m benchmarks script sleep --wakes 5     # the older single-purpose scripts
"""

import ast
import runpy
import sys
from pathlib import Path

import typer

from benchmarks import harness
from benchmarks.scenarios import burst, density, fairness, latency, memory, restart

HERE = Path(__file__).parent
# Single-purpose scripts from earlier issues, each with its own arguments.
SCRIPTS = ("foundation", "kubectl_streams", "refused_pods", "snapshot", "sleep")

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
run_app = typer.Typer(help="Run one scenario; its figures go to docs/performance.md.")
app.add_typer(run_app, name="run")

RECORD = typer.Option(True, "--record/--no-record", help="Append to docs/performance.md.")

# What `run all` runs: every scenario at the sizes issue 13 sets its goals at.
FULL_RUN = (
    "burst --pods 1000",
    "burst --pods 5000",
    "burst --pods 10000",
    "latency",
    "memory",
    "restart",
    "density",
    "fairness",
)
# What typer returns, not raises, for Ctrl-C when a command is run with standalone_mode=False.
INTERRUPTED = 130
# The reports of this invocation, for `run all`'s summary.
finished: list[harness.Report] = []


def _finish(report: harness.Report, record: bool) -> None:
    harness.show(report)
    finished.append(report)
    if record:
        harness.record(report)
        harness.console.print(f"  recorded in {harness.RECORD.relative_to(harness.ROOT)}")


@run_app.command("burst")
def run_burst(
    pods: int = typer.Option(1000, "--pods", min=10),
    namespaces: int = typer.Option(10, "--namespaces", min=1),
    record: bool = RECORD,
) -> None:
    """N pods as Deployments across namespaces: directly on the host, then inside a
    vcluster on it; time until all are Running, and the ratio."""
    _finish(burst.run(pods, namespaces), record)


@run_app.command("latency")
def run_latency(
    rate: float = typer.Option(20.0, "--rate", help="Pods created per second."),
    seconds: float = typer.Option(120.0, "--seconds"),
    record: bool = RECORD,
) -> None:
    """A steady stream of pods inside a vcluster: from virtual create to host pod, and from
    host Running to virtual Running; p50, p99, max."""
    _finish(latency.run(rate, seconds), record)


@run_app.command("memory")
def run_memory(
    steps: str = typer.Option("1000,5000,10000", "--steps", help="Synced pods to measure at."),
    record: bool = RECORD,
) -> None:
    """The runner's RSS at 0 and at each step of synced pods; bytes per pod."""
    _finish(memory.run([int(s) for s in steps.split(",")]), record)


@run_app.command("restart")
def run_restart(pods: int = typer.Option(10000, "--pods", min=1), record: bool = RECORD) -> None:
    """Kill the runner with PODS synced; time until it serves again, its caches are
    rebuilt and nothing is queued."""
    _finish(restart.run(pods), record)


@run_app.command("density")
def run_density(
    budget: float = typer.Option(20.0, "--budget-gib", help="Stop when they use this much."),
    most: int = typer.Option(50, "--most", min=1, help="Stop at this many."),
    record: bool = RECORD,
) -> None:
    """Start vclusters one after another until the budget or the count, then ten at once:
    create → ready times and idle memory by process."""
    _finish(density.run(budget, most), record)


@run_app.command("fairness")
def run_fairness(
    flood: int = typer.Option(5000, "--flood", min=10, help="Pods the greedy tenant creates."),
    record: bool = RECORD,
) -> None:
    """A small tenant's few pods while another vcluster floods, then while another
    namespace of its own floods: the small tenant's time to host."""
    _finish(fairness.run(flood), record)


@run_app.command("all")
def run_all(
    only: str = typer.Option(
        "", "--only", help="Only these scenarios, comma-separated: restart,density."
    ),
    record: bool = RECORD,
) -> None:
    """Every scenario at full size, one after another: one documented run, and a summary of
    its figures beside their goals. A scenario that fails is named and the rest still run."""
    chosen = {name.strip() for name in only.split(",") if name.strip()}
    unknown = chosen - {line.split()[0] for line in FULL_RUN}
    if unknown:
        raise SystemExit(f"error: no scenario {', '.join(sorted(unknown))} (`run all --help`)")
    failed = []
    for line in FULL_RUN:
        if chosen and line.split()[0] not in chosen:
            continue
        args = ["run", *line.split(), "--record" if record else "--no-record"]
        # Each scenario's record names the command that reproduces it alone.
        sys.argv = [sys.argv[0], *args[:-1]]
        harness.console.rule(f"run {line}")
        try:
            code = app(args, standalone_mode=False)
        except (Exception, SystemExit) as exc:
            harness.console.print(f"error: run {line} failed: {exc}", highlight=False)
            failed.append(line)
            continue
        if code == INTERRUPTED:
            raise typer.Exit(INTERRUPTED)  # Ctrl-C stops the whole run, not only this scenario
    summary = harness.summary(finished, failed)
    harness.show(summary)
    if record:
        harness.record(summary)


@app.command("list")
def list_() -> None:
    """The scenarios, and the older scripts `script` runs."""
    for command in run_app.registered_commands:
        doc = (command.callback.__doc__ if command.callback else "") or ""
        harness.console.print(f"run {command.name:<16} {summary(doc)}", highlight=False)
    for name in SCRIPTS:
        doc = ast.get_docstring(ast.parse((HERE / f"{name}.py").read_text())) or ""
        harness.console.print(f"script {name:<13} {summary(doc)}", highlight=False)


def summary(doc: str) -> str:
    """A docstring's first paragraph on one line."""
    return " ".join(doc.strip().split("\n\n")[0].split())


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def script(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Run one of the older single-purpose scripts with its own arguments."""
    path = HERE / f"{name}.py"
    if name not in SCRIPTS:
        raise SystemExit(f"error: no script benchmarks/{name}.py (`python -m benchmarks list`)")
    sys.argv = [str(path), *ctx.args]
    sys.path.insert(0, str(HERE))
    runpy.run_path(str(path), run_name="__main__")


if __name__ == "__main__":
    app()
