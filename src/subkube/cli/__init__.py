"""The `subkube` command."""

import sys
from typing import NoReturn

import aiohttp
import typer

from subkube import __version__, log
from subkube.cli import binaries, config, host, image, inpod, snapshots, vcluster, version
from subkube.cli.output import console_err
from subkube.errors import SubkubeError
from subkube.kube.rest import ApiError

app = typer.Typer(
    name="subkube",
    help="Virtual Kubernetes clusters inside one namespace of a host cluster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(binaries.app, name="binaries")
app.add_typer(host.app, name="host")
app.add_typer(config.app, name="config")
app.command("create")(vcluster.create)
app.command("delete")(vcluster.delete)
app.command("kubeconfig")(vcluster.kubeconfig)
app.command("list")(vcluster.list_)
app.command("describe")(vcluster.describe)
app.command("connect")(vcluster.connect)
app.command("disconnect")(vcluster.disconnect)
app.command("pause")(vcluster.pause)
app.command("resume")(vcluster.resume)
app.command("sleep")(vcluster.sleep)
app.command("wake")(vcluster.wake)
app.command("run")(vcluster.run)
certs = typer.Typer(help="The vcluster's certificates.", no_args_is_help=True)
certs.command("check")(vcluster.certs_check)
certs.command("rotate")(vcluster.certs_rotate)
app.add_typer(certs, name="certs")
app.add_typer(snapshots.app, name="snapshot")
app.command("restore")(snapshots.restore)
app.add_typer(inpod.app, name="inpod")
app.add_typer(image.app, name="image")
app.command("version")(version.version)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"subkube {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More logs: -v info, -vv debug."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the subkube version."
    ),
) -> None:
    log.configure(verbose)


def _fail(message: str) -> NoReturn:
    console_err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    sys.exit(1)


def main() -> None:
    """Run the CLI; usage errors are click's, everything a user can cause is one line."""
    try:
        app()
    except SubkubeError as exc:
        _fail(str(exc))
    except ApiError as exc:
        _fail(f"the API server refused: {exc}")
    except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
        _fail(
            f"cannot reach the cluster ({exc}); is it running? (`subkube host status`, "
            "`subkube list`)"
        )
    except KeyboardInterrupt:
        console_err.print("interrupted")
        sys.exit(130)
