"""Shared console objects and table/json/yaml rendering for listings."""

import datetime as dt
import json
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

console = Console()
console_err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def render(
    rows: list[dict[str, Any]], columns: list[str], fmt: OutputFormat, title: str | None = None
) -> None:
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(rows, default=str))
        return
    if fmt is OutputFormat.yaml:
        console.print(yaml.safe_dump(rows, sort_keys=False).rstrip(), highlight=False)
        return
    table = Table(title=title, header_style="bold", box=None, pad_edge=False)
    for col in columns:
        table.add_column(col.upper(), overflow="fold")
    for row in rows:
        table.add_row(*(str(row.get(col, "")) for col in columns))
    console.print(table)


def age(since_iso: str) -> str:
    """kubectl-style age: 45s, 12m, 3h, 2d."""
    try:
        since = dt.datetime.fromisoformat(since_iso)
    except ValueError:
        return "-"
    seconds = int((dt.datetime.now(dt.UTC) - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def warn(message: str) -> None:
    console_err.print(f"[yellow]warning:[/yellow] {message}", highlight=False)
