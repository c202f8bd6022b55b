"""`subkube run`, what the chart's pod runs, and `subkube inpod …`, what the helm driver runs
in that pod through `kubectl exec`.

The archive travels through the exec stream (stdout for a snapshot, stdin for a restore),
so the pod needs no route to, and no credentials for, where snapshots are kept: the CLI
uploads and downloads them with the user's own. `inpod` is hidden: not for people to type.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import typer

from subkube.cli.options import CONTEXT, KUBECONFIG, NAMESPACE
from subkube.cli.output import warn
from subkube.config.load import load
from subkube.config.model import Config
from subkube.lifecycle.commands import host_kubeconfig
from subkube.runner import daemon, hostside, incluster, renewal
from subkube.runner.sleep import ask_to_sleep
from subkube.runner.state import VClusterState, controlplane_dir, load_state, vcluster_dir
from subkube.runner.vcluster import VCluster, VClusterConfig
from subkube.snapshot import pending
from subkube.snapshot.capture import capture
from subkube.syncer.registry import check_supported

app = typer.Typer(
    hidden=True,
    no_args_is_help=True,
    help="Run inside the chart's pod by the helm driver, through kubectl exec.",
)

# The chart sets SUBKUBE_CONFIG and SUBKUBE_DATA_DIR in the container, so these are right
# wherever the pod's /etc/subkube and /data live (the local host's runtime maps each mount
# to a directory of its own, and rewrites such values, not the arguments of an exec).
CONFIG = typer.Option(
    [], "--config", "-f", envvar="SUBKUBE_CONFIG", help="subkube.yaml files (as `run` got them)."
)
DATA_DIR = typer.Option(
    Path("/data"), "--data-dir", envvar="SUBKUBE_DATA_DIR", help="The runner's --data-dir."
)


def _config(files: list[Path], data_dir: Path) -> Config:
    # Paths below follow the runner's: it set the same state dir from its --data-dir.
    os.environ["SUBKUBE_STATE_DIR"] = str(data_dir)
    config, _ = load(files, [])
    return config


@app.command("snapshot")
def snapshot(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    config_files: list[Path] = CONFIG,
    data_dir: Path = DATA_DIR,
) -> None:
    """Write a snapshot archive of this pod's vcluster to stdout."""
    config = _config(config_files, data_dir)
    asyncio.run(
        capture(
            controlplane_dir(namespace, name),
            config,
            vcluster=name,
            namespace=namespace,
            out=sys.stdout.buffer,
        )
    )
    sys.stdout.buffer.flush()


@app.command("restore")
def restore(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    config_files: list[Path] = CONFIG,
    data_dir: Path = DATA_DIR,
) -> None:
    """Read a snapshot archive from stdin and stage it; stopping the runner makes the kubelet
    restart the container (the pod and its data volume stay), and the runner restores the
    store before its control plane starts."""
    config = _config(config_files, data_dir)
    cp_dir = controlplane_dir(namespace, name)
    cp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cp_dir, prefix=".incoming-") as tmp:
        received = Path(tmp) / "snapshot.tar.gz"
        with received.open("wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
        metadata = pending.stage(received, cp_dir, config, source="the archive on stdin")
    typer.echo(
        f"staged the snapshot of {metadata.namespace}/{metadata.vcluster} taken {metadata.created}",
        err=True,
    )
    state = load_state(namespace, name)
    if state is not None and state.pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)


@app.command("rotate-certs")
def rotate_certs(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    ca: bool = typer.Option(False, "--ca", help="Rotate the CAs too."),
    data_dir: Path = DATA_DIR,
) -> None:
    """Have this pod's runner rotate its certificates, and wait until it has."""
    os.environ["SUBKUBE_STATE_DIR"] = str(data_dir)
    asyncio.run(renewal.rotate(namespace, name, ca=ca))


@app.command("sleep")
def sleep(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    data_dir: Path = DATA_DIR,
) -> None:
    """Put this pod's vcluster to sleep now, and wait until it sleeps."""
    os.environ["SUBKUBE_STATE_DIR"] = str(data_dir)
    asyncio.run(ask_to_sleep(namespace, name))


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
    check_supported(config.sync)
    directory = vcluster_dir(namespace, name)
    if in_cluster:
        host = incluster.write_host_kubeconfig(directory / "host.kubeconfig")
        port = port or 8443
    else:
        host = host_kubeconfig(kubeconfig)
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
