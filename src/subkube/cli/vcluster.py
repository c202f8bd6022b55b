"""`subkube create | delete | kubeconfig`: local vclusters (the runner as a local process)."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import tempfile
from pathlib import Path

import typer
import yaml

from subkube.cli.output import OutputFormat, age, console, render, warn
from subkube.config.load import load
from subkube.config.model import redacted
from subkube.controlplane import kubeconfig as kc
from subkube.errors import SubkubeError
from subkube.lifecycle import certs, commands
from subkube.lifecycle.kubeconfigs import (
    PREFIX,
    current_context,
    merge_into,
    refresh_context,
    user_kubeconfig,
    vcluster_kubeconfig,
)
from subkube.lifecycle.kubeconfigs import disconnect as disconnect_from
from subkube.runner import daemon, hostside, incluster
from subkube.runner.state import VClusterState, known_vclusters, load_state, vcluster_dir
from subkube.runner.vcluster import VCluster, VClusterConfig, check_supported

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


def list_(
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """List vclusters: status Running/Sleeping/Paused/Stopped and for how long, driver,
    whether connected."""
    current = current_context(user_kubeconfig())
    rows = []
    known = [load_state(namespace, name) for namespace, name in known_vclusters()]
    for state in asyncio.run(commands.observe([s for s in known if s is not None])):
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


def connect(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    print_: bool = typer.Option(False, "--print", help="Print the kubeconfig instead."),
    out: Path | None = typer.Option(None, "--kubeconfig-out", help="Write it to this file."),
    command: list[str] | None = typer.Argument(None, help="After --: run this with it."),
) -> None:
    """Make the vcluster the current kubeconfig context (or print it, or run one command)."""
    state = commands.existing(name, namespace)
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


def certs_check(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Every certificate of the vcluster and when it expires."""
    state = commands.existing(name, namespace)
    if not state.kubeconfig:
        raise SubkubeError(f"vcluster {name} has no kubeconfig yet; is it running?")
    server, found = certs.from_kubeconfig(Path(state.kubeconfig))
    found.append(asyncio.run(certs.served(server)))
    # The local driver keeps the data here (runner/daemon.py); the chart keeps it in its pod.
    pki_dir = vcluster_dir(namespace, name) / "data" / "controlplane" / "pki"
    if pki_dir.is_dir():
        found += certs.from_files(pki_dir)
    now = dt.datetime.now(dt.UTC)
    rows = [c.row(now) for c in sorted(found, key=lambda c: c.not_after)]
    render(rows, ["name", "notAfter", "remaining", "subject"], output, title=f"{name} certificates")


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


def kubeconfig(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
) -> None:
    """Print the path of the vcluster's admin kubeconfig."""
    state = load_state(namespace, name)
    if state is None or not state.kubeconfig:
        raise SubkubeError(f"no running vcluster {name} in namespace {namespace}")
    typer.echo(state.kubeconfig)


def run(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    config_files: list[Path] = typer.Option([], "--config", "-f", help="subkube.yaml files."),
    in_cluster: bool = typer.Option(
        False, "--in-cluster", help="Use this pod's service account for the host."
    ),
    kubeconfig: str | None = KUBECONFIG,
    context: str | None = CONTEXT,
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where to keep state."),
    port: int = typer.Option(
        0,
        "--port",
        envvar="SUBKUBE_PORT",
        help="Serve the virtual API at this port (8443 with --in-cluster).",
    ),
    bind_address: str = typer.Option(
        "0.0.0.0",
        "--bind-address",
        envvar="SUBKUBE_BIND_ADDRESS",
        help="Address the virtual API listens on when --port is set.",
    ),
) -> None:
    """Run a vcluster in the foreground (what the Helm chart's pod runs)."""
    if data_dir is not None:
        os.environ["SUBKUBE_STATE_DIR"] = str(data_dir)
    config, warnings = load(config_files, [])
    for warning in warnings:
        warn(warning)
    check_supported(config)
    directory = vcluster_dir(namespace, name)
    if in_cluster:
        host = incluster.write_host_kubeconfig(directory / "host.kubeconfig")
        port = port or 8443
    else:
        host = commands.host_kubeconfig(kubeconfig)
    vc = VCluster(
        VClusterConfig(
            name=name,
            host_namespace=namespace,
            host_kubeconfig=host,
            host_context=context,
            data_dir=directory / "data",
            config=config,
            listen_port=port,
            bind_address=bind_address,
            advertise_address=os.environ.get("POD_IP", ""),
            kubeconfig_secret=hostside.kubeconfig_secret_name(name) if in_cluster else "",
            apply_host_policies=not in_cluster,
        )
    )
    state = VClusterState(
        name=name, namespace=namespace, host_kubeconfig=str(host), host_context=context or ""
    )

    raise typer.Exit(asyncio.run(daemon.serve(vc, state)))
