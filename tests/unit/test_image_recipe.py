"""The runner image's recipe: what goes in, as whom it runs, when it is rebuilt."""

import json
from pathlib import Path

from typer.testing import CliRunner

from subkube import podman
from subkube.binaries.catalog import specs
from subkube.cli import app
from subkube.image import recipe


def test_the_image_runs_subkube_as_the_non_root_user() -> None:
    config = recipe.image_config("k1", "1.2.3")
    assert 'ENTRYPOINT ["/opt/subkube/bin/subkube"]' in config
    assert "USER 65532:65532" in config
    # Every `python3 -m subkube…` the runner execs itself into finds the packages.
    assert "ENV PYTHONPATH=/opt/subkube/lib" in config
    assert "ENV SUBKUBE_BIN_DIR=/opt/subkube/bin" in config
    assert f"LABEL {recipe.BUILD_KEY_LABEL}=k1" in config
    assert recipe.reference("1.2.3") == "localhost/subkube/subkube:1.2.3"
    assert recipe.entry_script().startswith("#!/usr/bin/python3\n")


def test_the_image_carries_what_the_runner_starts_and_nothing_of_the_local_host() -> None:
    pinned = {s.name for s in specs()}
    assert set(recipe.RUNNER_BINARIES) <= pinned
    assert not {"kwok", "kubectl", "helm", "versitygw"} & set(recipe.RUNNER_BINARIES)
    assert "python3" in recipe.PACKAGES
    assert not any("gcc" in p or "golang" in p for p in recipe.PACKAGES)


def test_the_build_key_follows_every_input(tmp_path: Path) -> None:
    a = tmp_path / "src" / "a.py"
    a.parent.mkdir()
    a.write_text("x = 1\n")
    first = recipe.build_key([a], tmp_path, "pins-1")
    assert recipe.build_key([a], tmp_path, "pins-1") == first
    assert recipe.build_key([a], tmp_path, "pins-2") != first
    a.write_text("x = 2\n")
    assert recipe.build_key([a], tmp_path, "pins-1") != first


def test_ulimits_never_ask_more_than_this_process_may_have() -> None:
    flags = podman.ulimits()
    assert flags[0::2] == ["--ulimit", "--ulimit"]
    for flag in flags[1::2]:
        name, value = flag.split("=")
        soft, hard = value.split(":")
        assert name in ("nofile", "nproc")
        assert soft == hard
        assert int(hard) <= podman.ULIMIT_CEILING


def test_version_lists_subkube_and_every_pin_as_json() -> None:

    out = CliRunner().invoke(app, ["version", "-o", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["subkube"]
    assert {s.name: s.expected_version for s in specs()}.items() <= data.items()
