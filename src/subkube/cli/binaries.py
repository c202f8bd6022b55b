"""`subkube binaries`: install and list the pinned upstream binaries."""

import asyncio
import time

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from subkube.binaries import install as installer
from subkube.cli.output import OutputFormat, console, render
from subkube.errors import SubkubeError

app = typer.Typer(help="Upstream binaries: build, fetch, verify, list.", no_args_is_help=True)


class RichReporter:
    """One spinner per group; Go builds show how many packages they have compiled."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.counts: dict[str, int] = {}
        self.descriptions: dict[str, str] = {}

    def begin(self, group: str, description: str) -> None:
        self.descriptions[group] = description
        self.counts[group] = 0
        self.tasks[group] = self.progress.add_task(description, total=None, detail="")

    def line(self, group: str, text: str) -> None:
        if group not in self.tasks:
            return
        # `go build -v` prints one import path per compiled package.
        if text and not text.startswith(("go:", "#", "$")) and " " not in text.strip():
            self.counts[group] += 1
            self.progress.update(
                self.tasks[group], detail=f"{self.counts[group]} packages compiled"
            )
        elif text.startswith("go: downloading"):
            self.progress.update(self.tasks[group], detail="downloading modules")

    def end(self, group: str, outcome: str) -> None:
        if group in self.tasks:
            self.progress.update(self.tasks[group], total=1, completed=1, detail=outcome)
            self.progress.stop_task(self.tasks[group])
        else:
            console.print(f"  [green]✓[/green] {group.replace('_', ' ')}: {outcome}")


@app.command("install")
def install_cmd(
    force: bool = typer.Option(False, "--force", help="Rebuild and refetch even if cached."),
) -> None:
    """Build or fetch every pinned binary into the cache (seconds when the cache is warm)."""
    started = time.monotonic()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        rows = asyncio.run(installer.install(RichReporter(progress), force=force))
    bad = [r for r in rows if not r.ok]
    if bad:
        names = ", ".join(f"{r.name} ({r.version or 'missing'}, want {r.expected})" for r in bad)
        raise SubkubeError(f"binaries failed verification: {names}")
    console.print(
        f"[green]✓[/green] {len(rows)} binaries verified in {time.monotonic() - started:.1f}s "
        f"({rows[0].path.parent if rows[0].path else ''})"
    )


@app.command("list")
def list_cmd(
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Show which binaries are installed, where, and at which version."""
    rows = [
        {
            "name": r.name,
            # The pinned version when it matches: the full --version line is noise in a table.
            "version": r.expected if r.ok else (r.version or "-"),
            "pinned": r.expected,
            "status": "ok" if r.ok else ("missing" if r.path is None else "version mismatch"),
            "origin": r.origin,
            "path": str(r.path) if r.path else "-",
        }
        for r in installer.status()
    ]
    render(rows, ["name", "version", "pinned", "status", "origin", "path"], output)
