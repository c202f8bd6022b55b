"""`subkube inpod …`: what the helm driver runs in the chart's pod through `kubectl exec`.

The archive travels through the exec stream (stdout for a snapshot, stdin for a restore),
so the pod needs no route to, and no credentials for, where snapshots are kept: the CLI
uploads and downloads them with the user's own. Hidden: not for people to type.
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

from subkube.config.load import load
from subkube.config.model import Config
from subkube.runner import renewal
from subkube.runner.sleep import ask_to_sleep
from subkube.runner.state import controlplane_dir, load_state
from subkube.snapshot import pending
from subkube.snapshot.capture import capture

app = typer.Typer(
    hidden=True,
    no_args_is_help=True,
    help="Run inside the chart's pod by the helm driver, through kubectl exec.",
)

NAMESPACE = typer.Option(..., "--namespace", "-n", help="Host namespace of the vcluster.")
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
