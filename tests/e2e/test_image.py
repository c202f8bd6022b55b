"""The runner image, built by the README's command (`make image`) and run in a real container:
what the Helm chart starts on a real cluster."""

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from subkube import podman
from subkube.image import build, recipe
from tests.conftest import subkube

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image(runner_image: str | None) -> str:
    if runner_image is None:
        pytest.fail(f"podman and runc are not installed: {podman.INSTALL_HINT}")
    return runner_image


def run_in(image: str, *args: str, entrypoint: str | None = None) -> str:
    argv = ["run", "--rm", "--network=host", *podman.ulimits()]
    if entrypoint:
        argv += ["--entrypoint", entrypoint]
    res = subprocess.run(
        podman.argv(*argv, image, *args), capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_subkube_runs_inside_as_the_non_root_user(image: str) -> None:
    inside = json.loads(run_in(image, "version", "-o", "json"))
    here = json.loads(subkube("version", "-o", "json").stdout)
    # The same subkube with the same pins; only the interpreter is Debian's.
    assert {k: v for k, v in inside.items() if k != "python"} == {
        k: v for k, v in here.items() if k != "python"
    }
    assert inside["python"].startswith("3.11.")
    assert "Run a vcluster in the foreground" in run_in(image, "run", "--help")
    assert run_in(image, "-u", entrypoint="id").strip() == str(recipe.USER_ID)
    # Every binary the runner starts is there and is the pinned one.
    apiserver = run_in(image, "--version", entrypoint="kube-apiserver")
    assert inside["kube-apiserver"] in apiserver


def test_the_image_holds_no_toolchain_and_no_package_cache(image: str) -> None:
    script = (
        "for t in gcc cc go pip3; do command -v $t; done; "
        "ls /var/cache/apt/archives | grep -c deb; "
        "ls /var/lib/apt/lists | grep -vc -e lock -e partial; true"
    )
    out = run_in(image, "-c", script, entrypoint="sh")
    assert out.split() == ["0", "0"], out
    size = int(podman_out("image", "inspect", "--format", "{{.Size}}", image))
    assert size < 1024**3


def podman_out(*args: str) -> str:
    return subprocess.run(podman.argv(*args), capture_output=True, text=True, check=True).stdout


def test_the_archive_is_an_oci_image_and_push_sends_it_where_asked(
    image: str, tmp_path: Path
) -> None:
    archive = build.default_archive(build.project_root())
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        layout = json.load(tar.extractfile("oci-layout"))  # type: ignore[arg-type]
    assert {"index.json", "oci-layout"} <= names
    assert layout["imageLayoutVersion"] == "1.0.0"
    # A registry reference or any transport podman knows; an OCI directory needs no server.
    pushed = subkube("image", "push", f"oci:{tmp_path / 'out'}:subkube:test")
    assert pushed.returncode == 0, pushed.stderr
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == [
        "subkube:test"
    ]


def test_a_build_of_the_same_inputs_only_writes_its_archive(image: str, tmp_path: Path) -> None:
    # What a fresh clone of the same tree finds: the image in podman's store, no archive.
    archive = tmp_path / "elsewhere.oci.tar"
    res = subkube("image", "build", "-o", str(archive))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "up to date" in " ".join(res.stdout.split()), "no rebuild"
    with tarfile.open(archive) as tar:
        assert "index.json" in tar.getnames()


def test_a_missing_image_is_one_line_that_says_how_to_build_it() -> None:
    res = subkube("image", "push", "oci:/tmp/nowhere", "--tag", "localhost/subkube/none:0")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1
    assert "make image" in res.stderr
