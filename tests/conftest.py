"""Shared fixtures: real binaries from the cache, isolated state dirs, real kubectl."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import strategies as st

from subkube import podman
from subkube.binaries.catalog import find
from subkube.controlplane.ports import free_port
from subkube.hostcluster.engine import HOST_LABEL
from subkube.image import recipe


@pytest.fixture(scope="session", autouse=True)
def regex_strategies_loaded() -> None:
    """Hypothesis imports its regex support lazily, the first time a test draws from
    `from_regex`: deep inside a test run, where CPython 3.11's AST builder can fail with
    "AST constructor recursion depth mismatch" (python/cpython#106905) while pytest
    rewrites that module. Loaded here, it is parsed once from a shallow stack."""
    st.from_regex(r"\A[a-z]\Z", fullmatch=True).validate()


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Whatever a test started (hosts, vclusters: all of them run on data under pytest's
    temp dir) is killed when the session ends, even after failures and skipped teardowns.
    Components die with their daemon (PDEATHSIG); the daemons are found by their paths."""
    yield
    marker = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            # Daemons carry their state dir in the environment, components in their flags.
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in seen:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
    # Containers of the subkube image carry their host's data dir as a label.
    if podman.available():
        listed = subprocess.run(
            podman.argv(
                "ps", "-a", "--format", f'{{{{.Names}}}} {{{{index .Labels "{HOST_LABEL}"}}}}'
            ),
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
        names = [line.split()[0] for line in listed if marker in line]
        if names:
            subprocess.run(
                podman.argv("rm", "-f", "-t", "0", *names), capture_output=True, check=False
            )


@pytest.fixture(scope="session")
def runner_image() -> str | None:
    """The runner image, built (or found up to date) by the README's command: local hosts run
    the chart's pod in it. None where podman is not installed: the pod is then a process."""
    if not podman.available():
        return None
    res = subkube("image", "build", timeout=1200)
    assert res.returncode == 0, res.stdout + res.stderr
    return recipe.reference()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Local hosts made by a test live in its own tmp dir, never in the user's."""
    d = tmp_path / "state"
    monkeypatch.setenv("SUBKUBE_STATE_DIR", str(d))
    return d


def require_binary(name: str) -> Path:
    path = find(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make setup` first")
    return path


def kubectl(
    kubeconfig: Path, *args: str, check: bool = True, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(require_binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def subkube(
    *args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a separate process."""
    venv_bin = Path(sys.executable).parent
    return subprocess.run(
        [str(venv_bin / "subkube"), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 120) -> T:
    """Poll CHECK until it returns something truthy; fail naming WHAT after TIMEOUT."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def namespace_snapshot(kubeconfig: Path, namespace: str) -> set[tuple[str, str]]:
    """(kind, name) of every object in NAMESPACE, of every listable kind but events."""
    kinds = kubectl(
        kubeconfig, "api-resources", "--verbs=list", "--namespaced", "-o", "name"
    ).stdout.split()
    kinds = [k for k in kinds if not k.startswith("events")]
    out = kubectl(kubeconfig, "-n", namespace, "get", ",".join(kinds), "-o", "json").stdout
    return {(i["kind"], i["metadata"]["name"]) for i in json.loads(out)["items"]}


@contextlib.contextmanager
def scheduler_named(name: str, kubeconfig: Path, workdir: Path) -> Iterator[None]:
    """A second kube-scheduler, under NAME, against the cluster of KUBECONFIG: what a host
    operator or a tenant runs for pods that ask for it by schedulerName."""
    config = workdir / f"{name}.yaml"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "clientConnection": {"kubeconfig": str(kubeconfig)},
                "leaderElection": {"leaderElect": False},
                "profiles": [{"schedulerName": name}],
            }
        )
    )
    with subprocess.Popen(
        [
            str(require_binary("kube-scheduler")),
            f"--config={config}",
            f"--secure-port={free_port()}",
            "--bind-address=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as scheduler:
        try:
            yield
        finally:
            scheduler.terminate()
