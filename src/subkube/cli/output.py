"""Shared console objects and table/json/yaml rendering for listings."""

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
