"""`subkube config`: the schema of subkube.yaml, and checking a file against it."""

import json
from pathlib import Path

import typer

from subkube.cli.output import console, warn
from subkube.config.load import json_schema, load

app = typer.Typer(
    help="subkube.yaml: print its JSON schema, validate a file.", no_args_is_help=True
)


@app.command()
def schema() -> None:
    """Print the JSON schema of subkube.yaml (the Helm chart's values.schema.json)."""
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Config files, merged in order."),
    sets: list[str] = typer.Option([], "--set", help="key.path=value on top."),
) -> None:
    """Check config files; old option names are accepted with a warning."""
    config, warnings = load(files, sets)
    for warning in warnings:
        warn(warning)
    store = config.controlPlane.backingStore.chosen
    console.print(f"[green]✓[/green] valid (backing store: {store})")
