"""`subkube list | kubeconfig | connect | disconnect`: finding vclusters and pointing
kubeconfigs at them. They read state files, so they import nothing that talks to a cluster."""

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

import typer
import yaml

from subkube.cli.options import NAMESPACE
from subkube.cli.output import OutputFormat, age, console, render
from subkube.controlplane import kubeconfig as kc
from subkube.errors import SubkubeError
from subkube.lifecycle.kubeconfigs import (
    PREFIX,
    current_context,
    merge_into,
    user_kubeconfig,
    vcluster_kubeconfig,
)
from subkube.lifecycle.kubeconfigs import disconnect as disconnect_from
from subkube.runner.state import VClusterState, existing, known_vclusters, load_state


def connect_or_show(state: VClusterState, connect_: bool) -> None:
    """After create or restore: make the vcluster the current context, or say where its
    kubeconfig is."""
    if connect_:
        context_name = merge_into(user_kubeconfig(), state)
        console.print(
            f"  switched to context [bold]{context_name}[/bold] (`subkube disconnect` to go back)"
        )
    else:
        console.print(f"  kubeconfig: {state.kubeconfig}")


def list_(
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """List vclusters: status Running/Sleeping/Paused/Stopped and for how long, driver,
    whether connected."""
    current = current_context(user_kubeconfig())
    rows = []
    known = [load_state(namespace, name) for namespace, name in known_vclusters()]
    states = [s for s in known if s is not None]
    if any(s.phase_on_host for s in states):
        # Only then does listing talk to a host, and pay for what that imports (0.7 s).
        from subkube.lifecycle import commands

        states = asyncio.run(commands.observe(states))
    for state in states:
        name, namespace = state.name, state.namespace
        since = (
            state.started_at if state.running else state.sleeping_since if state.sleeping else ""
        )
        status = (
            "Running"
            if state.running
            else "Sleeping"
            if state.sleeping
            else "Paused"
            if state.phase == "Paused"
            else "Failed"
            if state.phase == "Failed"
            else "Stopped"
        )
        rows.append(
            {
                "name": name,
                "namespace": namespace,
                "status": status,
                # In this status: running since it started or woke, sleeping since it slept.
                "since": since,
                "age": age(since) if since else "-",
                "driver": state.driver,
                "connected": current.startswith(f"{PREFIX}{name}_{namespace}_"),
                "server": state.server if since else "-",
                # Why it stopped or failed on its own (its host namespace deleted, say).
                "reason": "" if since else state.reason or state.error,
            }
        )
    if not rows and output is OutputFormat.table:
        console.print("no vclusters; create one with [bold]subkube create NAME -n NS[/bold]")
        return
    columns = ["name", "namespace", "status", "age", "driver", "connected", "server"]
    render(rows, columns + (["reason"] if any(r["reason"] for r in rows) else []), output)


def kubeconfig(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
) -> None:
    """Print the path of the vcluster's admin kubeconfig."""
    state = load_state(namespace, name)
    if state is None or not state.kubeconfig:
        raise SubkubeError(f"no running vcluster {name} in namespace {namespace}")
    typer.echo(state.kubeconfig)


def connect(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    print_: bool = typer.Option(False, "--print", help="Print the kubeconfig instead."),
    out: Path | None = typer.Option(None, "--kubeconfig-out", help="Write it to this file."),
    command: list[str] | None = typer.Argument(None, help="After --: run this with it."),
) -> None:
    """Make the vcluster the current kubeconfig context (or print it, or run one command)."""
    state = existing(name, namespace)
    config = vcluster_kubeconfig(state)
    if print_:
        typer.echo(yaml.safe_dump(config, sort_keys=False), nl=False)
        return
    if out is not None:
        kc.write(out, config)
        console.print(f"[green]✓[/green] kubeconfig for {name} written to {out}")
        return
    if command:
        with tempfile.TemporaryDirectory() as tmp:
            path = kc.write(Path(tmp) / "kubeconfig", config)
            try:
                code = subprocess.run(
                    command, env={**os.environ, "KUBECONFIG": str(path)}, check=False
                ).returncode
            except FileNotFoundError as exc:
                raise SubkubeError(f"cannot run {command[0]}: not found") from exc
        raise typer.Exit(code)
    target = user_kubeconfig()
    context = merge_into(target, state)
    console.print(f"[green]✓[/green] switched to context [bold]{context}[/bold] in {target}")


def disconnect() -> None:
    """Switch back to the context that was current before `subkube connect`."""
    target = user_kubeconfig()
    previous = disconnect_from(target)
    console.print(
        f"[green]✓[/green] switched back to context [bold]{previous or '(none)'}[/bold] in {target}"
    )
