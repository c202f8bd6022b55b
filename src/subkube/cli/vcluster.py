"""`subkube create | delete | describe | pause | resume | sleep | wake | certs`: a vcluster's
lifecycle, through the driver it runs with (lifecycle/commands.py)."""

import asyncio
import datetime as dt
import json
from pathlib import Path

import typer

from subkube.cli.contexts import connect_or_show
from subkube.cli.options import CONTEXT, KUBECONFIG, NAMESPACE
from subkube.cli.output import OutputFormat, age, console, render, warn
from subkube.config.load import load
from subkube.config.model import redacted
from subkube.errors import SubkubeError
from subkube.lifecycle import certs as certificates
from subkube.lifecycle import commands
from subkube.lifecycle.kubeconfigs import refresh_context, user_kubeconfig
from subkube.runner.state import existing, vcluster_dir

certs = typer.Typer(help="The vcluster's certificates.", no_args_is_help=True)


def create(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    values: list[Path] = typer.Option(
        [], "--values", "-f", help="subkube.yaml files, merged in order."
    ),
    sets: list[str] = typer.Option([], "--set", help="key.path=value, on top of the files."),
    driver: str = typer.Option(
        "local", "--driver", help="local: run it here; helm: install the chart on the host."
    ),
    kubeconfig: str | None = KUBECONFIG,
    context: str | None = CONTEXT,
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for readiness."),
    connect_: bool = typer.Option(
        True, "--connect/--no-connect", help="Make it the current kubeconfig context."
    ),
    upgrade: bool = typer.Option(
        False, "--upgrade", help="Apply new config to an existing vcluster."
    ),
) -> None:
    """Create a vcluster in a host namespace, wait until its API answers, connect."""
    config, warnings = load(values, sets)
    for warning in warnings:
        warn(warning)
    with console.status(f"creating vcluster [bold]{name}[/bold] in {namespace}…") as status:
        state = asyncio.run(
            commands.create(
                name,
                namespace,
                kubeconfig=kubeconfig,
                context=context,
                config=config,
                timeout=timeout,
                upgrade=upgrade,
                driver=driver,
                on_phase=lambda p: status.update(f"vcluster {name}: {p}…"),
                on_warning=warn,
            )
        )
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] is running in namespace "
        f"{namespace} ({state.server})"
    )
    if state.driver == "helm":
        console.print(
            f"  runs as StatefulSet {name} in {namespace} (Service {name}:443 inside the "
            f"host), reached here through a port-forward on 127.0.0.1:{state.local_port}"
        )
    connect_or_show(state, connect_)


def delete(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    keep_data: bool = typer.Option(False, "--keep-data", help="Keep the vcluster's store."),
    delete_namespace: bool = typer.Option(
        False,
        "--delete-namespace",
        help="Also delete the host namespace, if subkube created it and nothing else of "
        "subkube lives there.",
    ),
) -> None:
    """Stop a vcluster and remove everything it made on the host."""
    with console.status(f"deleting vcluster [bold]{name}[/bold]…"):
        namespace_gone = asyncio.run(
            commands.delete(name, namespace, keep_data=keep_data, delete_namespace=delete_namespace)
        )
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] deleted from {namespace}"
        + ("; namespace deleted" if namespace_gone else "")
    )


def describe(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Config, endpoints, synced objects per kind, and the virtual -> host name mapping."""
    state, owned = asyncio.run(commands.describe(name, namespace))
    config_path = vcluster_dir(namespace, name) / "config.json"
    config = redacted(json.loads(config_path.read_text())) if config_path.exists() else {}
    counts = owned["synced"]
    info = {
        "name": name,
        "namespace": namespace,
        "phase": state.phase,
        "reason": state.reason or state.error,
        "sleeping": (
            {"since": state.sleeping_since, "reason": state.sleep_reason}
            if state.sleeping
            else None
        ),
        "server": state.server,
        "kubeconfig": state.kubeconfig,
        "metrics": state.metrics,
        "hostKubeconfig": state.host_kubeconfig,
        "synced": counts,
        "host": owned["host"] or "reachable",
        "mapping": owned["mapping"],
        "config": config,
    }
    if output is not OutputFormat.table:
        render([info], [], output)
        return
    console.print(f"[bold]{name}[/bold] in {namespace}: {state.phase}")
    if info["reason"]:
        console.print(f"  reason: {info['reason']}")
    if owned["host"]:
        console.print(f"  host: {owned['host']}")
    if state.sleeping:
        console.print(
            f"  asleep since {state.sleeping_since} ({age(state.sleeping_since)}), "
            f"reason: {state.sleep_reason}; the next request wakes it"
        )
    for key in ("server", "kubeconfig", "metrics", "hostKubeconfig"):
        console.print(f"  {key}: {info[key] or '-'}")
    if counts:
        console.print("  synced to the host: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    render(info["mapping"], ["kind", "virtual", "host"], output, title="virtual -> host")


def pause(
    name: str = typer.Argument(..., help="vcluster name."), namespace: str = NAMESPACE
) -> None:
    """Stop the vcluster's control plane and remove its pods from the host (data is kept)."""
    with console.status(f"pausing vcluster [bold]{name}[/bold]…"):
        removed = asyncio.run(commands.pause(name, namespace))
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] paused; {removed} host pods removed"
    )


def resume(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    timeout: float = typer.Option(180.0, "--timeout"),
) -> None:
    """Start a paused vcluster again; its pods come back."""
    with console.status(f"resuming vcluster [bold]{name}[/bold]…") as status:
        state = asyncio.run(
            commands.resume(
                name, namespace, timeout, lambda p: status.update(f"vcluster {name}: {p}…")
            )
        )
    console.print(f"[green]✓[/green] vcluster [bold]{name}[/bold] is running ({state.server})")


def sleep(
    name: str = typer.Argument(..., help="vcluster name."), namespace: str = NAMESPACE
) -> None:
    """Put the vcluster to sleep now: its control plane stops and its pods leave the host
    (unless sleepMode.keepWorkloads); the next request to it wakes it."""
    with console.status(f"putting vcluster [bold]{name}[/bold] to sleep…"):
        state = asyncio.run(commands.sleep(name, namespace))
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] is sleeping (since "
        f"{state.sleeping_since}); the next request to {state.server} wakes it"
    )


def wake(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for it."),
) -> None:
    """Wake a sleeping vcluster now, as any request to it would."""
    with console.status(f"waking vcluster [bold]{name}[/bold]…"):
        state, took = asyncio.run(commands.wake(name, namespace, timeout))
    console.print(
        f"[green]✓[/green] vcluster [bold]{name}[/bold] is running ({state.server}); "
        f"its API answered after {took:.1f}s"
    )


@certs.command("check")
def certs_check(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Every certificate of the vcluster and when it expires."""
    state = existing(name, namespace)
    if not state.kubeconfig:
        raise SubkubeError(f"vcluster {name} has no kubeconfig yet; is it running?")
    server, found = certificates.from_kubeconfig(Path(state.kubeconfig))
    found.append(asyncio.run(certificates.served(server)))
    # The local driver keeps the data here (runner/daemon.py); the chart keeps it in its pod.
    pki_dir = vcluster_dir(namespace, name) / "data" / "controlplane" / "pki"
    if pki_dir.is_dir():
        found += certificates.from_files(pki_dir)
    now = dt.datetime.now(dt.UTC)
    rows = [c.row(now) for c in sorted(found, key=lambda c: c.not_after)]
    render(rows, ["name", "notAfter", "remaining", "subject"], output, title=f"{name} certificates")


@certs.command("rotate")
def certs_rotate(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    ca: bool = typer.Option(
        False, "--ca", help="Rotate the CAs too: kubeconfigs made before stop working."
    ),
) -> None:
    """Reissue the vcluster's certificates now, as its runner does before they expire."""
    what = "CAs and certificates" if ca else "leaf certificates"
    with console.status(f"rotating the {what} of vcluster [bold]{name}[/bold]…"):
        state = asyncio.run(commands.rotate_certs(name, namespace, ca=ca))
    console.print(f"[green]✓[/green] {what} of vcluster [bold]{name}[/bold] rotated")
    target = user_kubeconfig()
    if refresh_context(target, state):
        console.print(f"  context updated in {target}")
