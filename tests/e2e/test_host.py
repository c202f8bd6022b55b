"""`subkube host`: a real local host cluster, used through the CLI and real kubectl."""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.binaries.pins import load_pins
from subkube.daemonize import pid_alive
from tests.conftest import kubectl, subkube, wait_for

pytestmark = pytest.mark.e2e


class Host:
    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        self.env = {"SUBKUBE_STATE_DIR": str(state_dir)}

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subkube("host", *args, "--name", self.name, env=self.env, check=check)

    def up(self, nodes: int = 3) -> None:
        res = self.cli("up", "--nodes", str(nodes))
        assert res.returncode == 0, res.stdout + res.stderr

    @property
    def kubeconfig(self) -> Path:
        return Path(self.cli("kubeconfig", check=True).stdout.strip())

    def state(self) -> dict[str, Any]:
        rows = json.loads(self.cli("status", "-o", "json", check=True).stdout)
        return rows[0]

    def raw_state(self) -> dict[str, Any]:
        path = Path(self.env["SUBKUBE_STATE_DIR"]) / "hosts" / self.name / "state.json"
        return json.loads(path.read_text())


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="module")
def host(state_root: Path) -> Iterator[Host]:
    h = Host("e2e", state_root)
    h.up(3)
    yield h
    h.cli("down", "--purge")


def ready_nodes(kubeconfig: Path) -> list[str]:
    nodes = json.loads(kubectl(kubeconfig, "get", "nodes", "-o", "json").stdout)["items"]
    return [
        n["metadata"]["name"]
        for n in nodes
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n["status"].get("conditions", [])
        )
    ]


def test_nodes_are_ready(host: Host) -> None:
    assert len(ready_nodes(host.kubeconfig)) == 3
    state = host.state()
    assert state["phase"] == "Running"
    assert state["api"] == "ok"
    assert state["nodes"] == "3/3"


def test_kubectl_version_reports_the_pinned_server(host: Host) -> None:
    version = json.loads(kubectl(host.kubeconfig, "version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == load_pins().kubernetes.version


def test_a_deployment_runs_spread_over_the_nodes_and_is_garbage_collected(host: Host) -> None:
    kc = host.kubeconfig
    kubectl(kc, "create", "deployment", "web", "--image=nginx", "--replicas=5")

    def running() -> list[dict[str, Any]] | None:
        pods = json.loads(kubectl(kc, "get", "pods", "-l", "app=web", "-o", "json").stdout)
        items = [
            p
            for p in pods["items"]
            if p["status"].get("phase") == "Running" and p["status"].get("podIP")
        ]
        return items if len(items) == 5 else None

    pods = wait_for("5 Running pods", running)
    nodes = {p["spec"]["nodeName"] for p in pods}
    assert len(nodes) > 1, f"all pods on {nodes}"
    assert len({p["status"]["podIP"] for p in pods}) == 5

    kubectl(kc, "delete", "deployment", "web")

    def gone() -> bool:
        out = kubectl(kc, "get", "pods,replicasets", "-l", "app=web", "-o", "name").stdout
        return out.strip() == ""

    wait_for("the garbage collector to remove the ReplicaSet and pods", gone)


def test_stop_and_start_keep_objects(host: Host) -> None:
    kc = host.kubeconfig
    kubectl(kc, "create", "configmap", "survivor", "--from-literal=k=v")
    res = host.cli("down")
    assert res.returncode == 0
    assert "stopped" in res.stdout
    assert host.state()["phase"] == "Stopped"
    host.up(3)
    got = kubectl(host.kubeconfig, "get", "configmap", "survivor", "-o", "jsonpath={.data.k}")
    assert got.stdout == "v"
    assert len(ready_nodes(host.kubeconfig)) == 3


def test_up_twice_is_harmless(host: Host) -> None:
    pid = host.raw_state()["pid"]
    host.up(3)
    assert host.raw_state()["pid"] == pid


def test_two_hosts_run_side_by_side(host: Host, state_root: Path) -> None:
    other = Host("e2e-b", state_root)
    try:
        other.up(1)
        assert other.kubeconfig != host.kubeconfig
        assert len(ready_nodes(other.kubeconfig)) == 1
        assert len(ready_nodes(host.kubeconfig)) == 3
        kubectl(other.kubeconfig, "create", "namespace", "only-in-b")
        assert (
            kubectl(host.kubeconfig, "get", "namespace", "only-in-b", check=False).returncode != 0
        )
        listed = json.loads(subkube("host", "status", "-o", "json", env=host.env).stdout)
        assert {r["name"] for r in listed} >= {"e2e", "e2e-b"}
    finally:
        other.cli("down", "--purge")
    assert not (state_root / "hosts" / "e2e-b").exists()
    assert host.state()["phase"] == "Running"


def test_sigkill_of_the_daemon_leaves_no_process(state_root: Path) -> None:
    victim = Host("e2e-kill", state_root)
    try:
        victim.up(1)
        state = victim.raw_state()
        children = state["components"]
        assert set(children) == {
            "kine",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        }
        os.kill(state["pid"], signal.SIGKILL)
        wait_for(
            "every component to exit",
            lambda: not any(pid_alive(p) for p in children.values()),
            timeout=15,
        )
        assert victim.state()["phase"] == "Stopped"
        victim.up(1)
        assert len(ready_nodes(victim.kubeconfig)) == 1
    finally:
        victim.cli("down", "--purge")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--name", "Bad_Name"], "invalid host name 'Bad_Name'"),
        (["up", "--name", "x", "--store", "mysql"], "--store must be kine or etcd"),
        (["kubeconfig", "--name", "nope"], "no local host named nope"),
        (["down", "--name", "nope"], "no local host named nope"),
        (["status", "--name", "nope"], "no local host named nope"),
    ],
)
def test_bad_input_gets_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = subkube("host", *args, env={"SUBKUBE_STATE_DIR": str(tmp_path)})
    assert res.returncode != 0
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
