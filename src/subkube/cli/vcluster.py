"""`subkube create | delete | kubeconfig`: local vclusters (the runner as a local process)."""

from pathlib import Path

import typer

from subkube.cli.output import console, console_err
from subkube.config.load import load
from subkube.errors import SubkubeError
from subkube.runner import manage
from subkube.runner.state import load_state

NAMESPACE = typer.Option(..., "--namespace", "-n", help="Host namespace of the vcluster.")
KUBECONFIG = typer.Option(None, "--kubeconfig", help="Host kubeconfig (default: $KUBECONFIG).")
CONTEXT = typer.Option(None, "--context", help="Context of the host kubeconfig.")


def create(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    values: list[Path] = typer.Option(
        [], "--values", "-f", help="subkube.yaml files, merged in order."
    ),
    sets: list[str] = typer.Option([], "--set", help="key.path=value, on top of the files."),
    driver: str = typer.Option("local", "--driver", help="local: run the vcluster here."),
    kubeconfig: str | None = KUBECONFIG,
    context: str | None = CONTEXT,
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for readiness."),
) -> None:
    """Create a vcluster in a host namespace and wait until its API answers."""
    if driver != "local":
        raise SubkubeError(f"--driver {driver} is not available yet; use --driver local")
    config, warnings = load(values, sets)
    for warning in warnings:
        console_err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    with console.status(f"creating vcluster [bold]{name}[/bold] in {namespace}…") as status:
        state = manage.create(
            name,
            namespace,
            kubeconfig=kubeconfig,
            context=context,
            config=config,
            timeout=timeout,
            on_phase=lambda p: status.update(f"vcluster {name}: {p}…"),
        )
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] is running in namespace "
        f"{namespace} ({state.server})"
    )
    console.print(f"  kubeconfig: {state.kubeconfig}")


def delete(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    keep_data: bool = typer.Option(False, "--keep-data", help="Keep the vcluster's store."),
) -> None:
    """Stop a vcluster and remove everything it made on the host."""
    with console.status(f"deleting vcluster [bold]{name}[/bold]…"):
        manage.delete(name, namespace, keep_data=keep_data)
    console.print(f"[green]✓[/green] vcluster [bold]{name}[/bold] deleted from {namespace}")


def kubeconfig(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
) -> None:
    """Print the path of the vcluster's admin kubeconfig."""
    state = load_state(namespace, name)
    if state is None or not state.kubeconfig:
        raise SubkubeError(f"no running vcluster {name} in namespace {namespace}")
    typer.echo(state.kubeconfig)
