"""The `subkube` command."""

import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from subkube import __version__, log
from subkube.cli.output import console_err
from subkube.errors import SubkubeError

# Each command's module is imported only when that command runs: `subkube list` and
# `subkube kubeconfig` read state files, and must not wait for what talking to a cluster
# imports (aiohttp, pydantic, every synced kind: 0.7 s). NAME: (module in subkube.cli, its
# function or typer.Typer), in the order --help lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "create": ("vcluster", "create"),
    "delete": ("vcluster", "delete"),
    "kubeconfig": ("contexts", "kubeconfig"),
    "list": ("contexts", "list_"),
    "describe": ("vcluster", "describe"),
    "connect": ("contexts", "connect"),
    "disconnect": ("contexts", "disconnect"),
    "pause": ("vcluster", "pause"),
    "resume": ("vcluster", "resume"),
    "sleep": ("vcluster", "sleep"),
    "wake": ("vcluster", "wake"),
    "run": ("inpod", "run"),
    "restore": ("snapshots", "restore"),
    "version": ("version", "version"),
    "binaries": ("binaries", "app"),
    "host": ("host", "app"),
    "config": ("config", "app"),
    "certs": ("vcluster", "certs"),
    "snapshot": ("snapshots", "app"),
    "image": ("image", "app"),
    "inpod": ("inpod", "app"),
}


class LazyCommands(Mapping[str, TyperCommand | TyperGroup]):
    """The root's commands by name, each built from its module when looked up. Typer finds a
    command, lists them for --help and suggests one for a typo through this mapping."""

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"subkube.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            group = typer.main.get_group(target)
            group.name = name
            return group
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
        assert isinstance(command, TyperCommand)
        return command

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()  # type: ignore[assignment]


app = typer.Typer(
    name="subkube",
    cls=LazyGroup,
    help="Virtual Kubernetes clusters inside one namespace of a host cluster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def _user_error(exc: Exception) -> str | None:
    """The one line for an error a user can cause; None for a bug, which keeps its traceback."""
    if isinstance(exc, SubkubeError):
        return str(exc)
    # A command that talked to a cluster imported these; one that did not cannot have
    # raised their errors, and importing them only to ask would cost every command 0.4 s.
    rest, aiohttp = sys.modules.get("subkube.kube.rest"), sys.modules.get("aiohttp")
    if rest is not None and isinstance(exc, rest.ApiError):
        return f"the API server refused: {exc}"
    unreachable = (ConnectionError, TimeoutError, *([aiohttp.ClientError] if aiohttp else []))
    if isinstance(exc, unreachable):
        return (
            f"cannot reach the cluster ({exc}); is it running? (`subkube host status`, "
            "`subkube list`)"
        )
    return None


def main() -> None:
    """Run the CLI; usage errors are click's, everything a user can cause is one line."""
    try:
        app()
    except KeyboardInterrupt:
        console_err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        _fail(message)
