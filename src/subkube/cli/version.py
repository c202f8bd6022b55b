"""`subkube version`: subkube's version and the pinned version of every upstream binary."""

import json
import platform

import typer

from subkube import __version__
from subkube.binaries.catalog import specs
from subkube.cli.output import OutputFormat, console, render


def versions() -> dict[str, str]:
    return {
        "subkube": __version__,
        "python": platform.python_version(),
        **{s.name: s.expected_version for s in specs()},
    }


def version(
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Print subkube's version and the pinned upstream versions it runs."""
    data = versions()
    if output is OutputFormat.json:
        console.print_json(json.dumps(data))
        return
    rows = [{"component": k, "version": v} for k, v in data.items()]
    render(rows, ["component", "version"], output)
