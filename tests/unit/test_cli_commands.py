"""The CLI loads a command's module only when that command runs, and every command loads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from subkube.cli import COMMANDS, app

# What talking to a cluster imports: 0.7 s of every command that loads them.
HEAVY = ("aiohttp", "kubernetes_asyncio", "subkube.syncer.registry")
LOADED = "print(json.dumps([m for m in {heavy} if m in sys.modules]))"


def heavy_modules_after(args: list[str], state_dir: Path) -> list[str]:
    """What of HEAVY a CLI process holds once ARGS ran, with no vclusters in STATE_DIR."""
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from subkube.cli import app\n"
        f"CliRunner().invoke(app, {args!r})\n" + LOADED.format(heavy=HEAVY)
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SUBKUBE_STATE_DIR": str(state_dir)},
    )
    return list(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "args", [["list", "-o", "json"], ["kubeconfig", "v", "-n", "ns"], ["version"]]
)
def test_commands_that_read_state_files_import_nothing_that_talks_to_a_cluster(
    args: list[str], tmp_path: Path
) -> None:
    assert heavy_modules_after(args, tmp_path) == []


def test_a_command_that_talks_to_a_host_loads_what_it_needs(tmp_path: Path) -> None:
    assert "aiohttp" in heavy_modules_after(["delete", "v", "-n", "ns"], tmp_path)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_loads_and_explains_itself(name: str) -> None:
    res = CliRunner().invoke(app, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert f"subkube {name}" in res.output


def test_the_root_help_lists_every_command_and_a_typo_gets_a_suggestion() -> None:
    listed = CliRunner().invoke(app, ["--help"]).output
    assert all(name in listed for name in COMMANDS if name != "inpod")
    typo = CliRunner().invoke(app, ["lsit"])
    assert typo.exit_code == 2
    assert "Did you mean 'list'?" in typo.output
