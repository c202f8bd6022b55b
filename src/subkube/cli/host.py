"""`subkube host`: local host clusters (real control plane + scheduler + kwok fake nodes)."""

import typer

from subkube import podman
from subkube.cli.output import OutputFormat, console, render
from subkube.errors import SubkubeError
from subkube.hostcluster import manage
from subkube.hostcluster.state import host_dir, known_hosts, load_state, validate_name
from subkube.lifecycle import commands

app = typer.Typer(
    help="A local host cluster: real control plane + kwok fake nodes, no containers.",
    no_args_is_help=True,
)

NAME = typer.Option("default", "--name", help="Host name; several hosts can run side by side.")


@app.command()
def up(
    name: str = NAME,
    nodes: int = typer.Option(3, "--nodes", min=0, max=500, help="Number of kwok fake nodes."),
    store: str = typer.Option("kine", "--store", help="kine (SQLite) or etcd."),
    pods_per_node: int = typer.Option(
        110, "--pods-per-node", min=1, help="Pod capacity of each fake node."
    ),
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for readiness."),
    runtime: str = typer.Option(
        "auto",
        "--runtime",
        help="How pods of the subkube image run: container (podman), process, or auto "
        "(container where podman and runc are installed).",
    ),
    tuned: bool = typer.Option(
        False,
        "--tuned",
        help="Raise the controller-manager's and scheduler's client QPS/burst (400/800) and "
        "the API server's in-flight limits, so benchmarks measure the vcluster, not the host.",
    ),
) -> None:
    """Start a local host in the background and wait until its nodes are Ready."""
    validate_name(name)
    if store not in ("kine", "etcd"):
        raise SubkubeError(f"--store must be kine or etcd, not {store!r}")
    if runtime not in ("auto", "container", "process"):
        raise SubkubeError(f"--runtime must be auto, container or process, not {runtime!r}")
    if runtime == "container":
        podman.executable()
    with console.status(f"starting host [bold]{name}[/bold] ({nodes} nodes, {store})…") as status:
        state = manage.up(
            name,
            nodes=nodes,
            store=store,
            pods_per_node=pods_per_node,
            runtime=runtime,
            tuned=tuned,
            timeout=timeout,
            on_phase=lambda p: status.update(f"host [bold]{name}[/bold]: {p}…"),
        )
    console.print(
        f"[green]✓[/green] host [bold]{name}[/bold] is running at {state.server} "
        f"with {state.nodes} nodes"
    )
    console.print(f"  kubeconfig: {state.kubeconfig}")
    console.print(
        f"  try: [bold]export KUBECONFIG=$(subkube host kubeconfig --name {name})"
        "[/bold] && kubectl get nodes",
        highlight=False,
    )


@app.command()
def down(
    name: str = NAME,
    purge: bool = typer.Option(False, "--purge", help="Also delete the host's data."),
) -> None:
    """Stop a local host, and the vclusters running on it first (its data is kept unless
    --purge; theirs is kept, and `subkube resume` starts them once the host is back)."""
    state = load_state(validate_name(name))
    if state is not None and state.server:
        with console.status(f"stopping the vclusters on host [bold]{name}[/bold]…"):
            stopped = commands.stop_on_host(
                state.server, f"host {name} was stopped (subkube host down)"
            )
        for vc in stopped:
            console.print(f"  stopped vcluster [bold]{vc.name}[/bold] in {vc.namespace}")
    with console.status(f"stopping host [bold]{name}[/bold]…"):
        was_running = manage.down(name, purge=purge)
    what = "stopped" if was_running else "was not running"
    console.print(
        f"[green]✓[/green] host [bold]{name}[/bold] {what}"
        + ("; its data was deleted" if purge else "")
    )


@app.command()
def status(
    name: str | None = typer.Option(None, "--name", help="Only this host."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Show local hosts: phase, API address, Ready nodes."""
    names = [validate_name(name)] if name else known_hosts()
    rows = []
    for n in names:
        state = load_state(n)
        if state is None:
            raise SubkubeError(f"no local host named {n}; start one with `subkube host up`")
        running = manage.is_running(state)
        live = manage.probe(state) if running else {"api": "down", "nodes_ready": 0}
        rows.append(
            {
                "name": n,
                "phase": state.phase if running or state.phase == "Failed" else "Stopped",
                "api": live["api"],
                "nodes": f"{live['nodes_ready']}/{state.nodes}",
                "store": state.store,
                "runtime": state.runtime or "-",
                "server": state.server if running else "-",
                "pid": state.pid if running else "-",
                "started": state.started_at if running else "-",
            }
        )
    if not rows and output is OutputFormat.table:
        console.print("no local hosts; start one with [bold]subkube host up[/bold]")
        return
    columns = ["name", "phase", "api", "nodes", "store", "runtime", "server", "pid", "started"]
    render(rows, columns, output)


@app.command()
def kubeconfig(
    name: str = NAME,
    raw: bool = typer.Option(False, "--raw", help="Print the kubeconfig itself, not its path."),
) -> None:
    """Print the path of a host's admin kubeconfig (or, with --raw, its content)."""
    state = load_state(validate_name(name))
    path = host_dir(name) / "data" / "admin.kubeconfig"
    if state is None or not path.exists():
        raise SubkubeError(
            f"no local host named {name}; start one with `subkube host up --name {name}`"
        )
    if raw:
        typer.echo(path.read_text(), nl=False)
    else:
        typer.echo(str(path))
