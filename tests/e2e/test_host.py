"""`subkube host`: a real local host cluster, used through the CLI and real kubectl."""

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.binaries.pins import load_pins
from subkube.daemonize import pid_alive
from subkube.hostcluster import podfiles
from tests.conftest import kubectl, require_binary, subkube, wait_for
from tests.e2e import jobs

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

    @property
    def home(self) -> Path:
        return Path(self.env["SUBKUBE_STATE_DIR"]) / "hosts" / self.name

    def raw_state(self) -> dict[str, Any]:
        return json.loads((self.home / "state.json").read_text())


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


# Everything the simulation tests below use, created at once so the pods and Jobs progress
# in parallel.
WORKLOADS = """
apiVersion: v1
kind: Pod
metadata: {name: sim}
spec:
  containers:
  - {name: app, image: nginx}
  - {name: side, image: busybox}
---
apiVersion: v1
kind: Pod
metadata:
  name: synced-job-pod
  annotations: {subkube.io/object-owner-kind: Job}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox}]
"""


@pytest.fixture(scope="module")
def workloads(host: Host) -> Path:
    kubectl(host.kubeconfig, "apply", "-f", "-", stdin=WORKLOADS)
    kubectl(host.kubeconfig, "apply", "-f", str(jobs.MANIFEST))
    return host.kubeconfig


def log_of(host: Host, pod: str, container: str) -> Path:
    return podfiles.log_path(host.home, "default", pod, container)


def started(host: Host, pod: str, container: str) -> Path:
    path = log_of(host, pod, container)
    wait_for(f"the log of {pod}/{container}", path.exists, timeout=60)
    return path


def append(path: Path, text: str, when: dt.datetime | None = None) -> None:
    with path.open("a") as fh:
        fh.write(podfiles.cri_line(text, when or dt.datetime.now(dt.UTC)))


@contextlib.contextmanager
def background(kubeconfig: Path, out: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """kubectl ARGS running until the block ends, its output going to OUT."""
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [str(require_binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_simulated_pod_logs_each_container_from_its_file(host: Host, workloads: Path) -> None:
    side = started(host, "sim", "side")
    first = "container side started (image busybox)"
    assert kubectl(workloads, "logs", "sim", "-c", "side").stdout == first + "\n"
    append(side, "an hour ago", dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    append(side, "just now")
    logs = kubectl(workloads, "logs", "sim", "-c", "side").stdout.splitlines()
    assert logs == [first, "an hour ago", "just now"]
    since = kubectl(workloads, "logs", "sim", "-c", "side", "--since=1h").stdout.splitlines()
    assert since == [first, "just now"]
    assert kubectl(workloads, "logs", "sim", "-c", "side", "--tail=1").stdout == "just now\n"
    stamped = kubectl(workloads, "logs", "sim", "-c", "side", "--timestamps").stdout
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container side started", stamped)
    started(host, "sim", "app")
    app = kubectl(workloads, "logs", "sim", "-c", "app").stdout
    assert app == "container app started (image nginx)\n"


def test_logs_follow_sees_lines_printed_later(host: Host, workloads: Path, tmp_path: Path) -> None:
    app = started(host, "sim", "app")
    out = tmp_path / "follow.out"
    with background(workloads, out, "logs", "-f", "sim", "-c", "app"):
        wait_for("the log so far", lambda: "container app started" in out.read_text())
        append(app, "printed while followed")
        wait_for("the new line", lambda: "printed while followed" in out.read_text())


def test_exec_runs_in_the_pods_directory_with_its_exit_code(host: Host, workloads: Path) -> None:
    started(host, "sim", "app")
    pwd = kubectl(workloads, "exec", "sim", "-c", "app", "--", "pwd").stdout.strip()
    assert pwd == str(podfiles.pod_dir(host.home, "default", "sim"))
    piped = kubectl(workloads, "exec", "-i", "sim", "-c", "app", "--", "cat", stdin="hi\n")
    assert piped.stdout == "hi\n"
    failed = kubectl(workloads, "exec", "sim", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr


def test_attach_shows_what_the_container_prints(
    host: Host, workloads: Path, tmp_path: Path
) -> None:
    app = started(host, "sim", "app")
    out = tmp_path / "attach.out"
    ticks = iter(range(1000))

    def printed() -> bool:
        # attach shows only what is printed once it is attached: print until it shows.
        append(app, f"tick {next(ticks)}")
        return "tick " in out.read_text()

    with background(workloads, out, "attach", "sim", "-c", "app"):
        wait_for("a line printed while attached", printed, timeout=60)


def test_port_forward_moves_bytes_both_ways(host: Host, workloads: Path, tmp_path: Path) -> None:
    started(host, "sim", "app")
    out = tmp_path / "pf.out"
    with background(workloads, out, "port-forward", "pod/sim", ":8080"):
        found = wait_for(
            "the forwarded port",
            lambda: re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", out.read_text()),
        )
        with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=30) as conn:
            conn.sendall(b"ping through the pod")
            received = b""
            while len(received) < len(b"ping through the pod"):
                chunk = conn.recv(1024)
                assert chunk, "connection closed before the echo came back"
                received += chunk
    assert received == b"ping through the pod"


def test_cp_copies_into_and_out_of_the_pods_directory(
    host: Host, workloads: Path, tmp_path: Path
) -> None:
    started(host, "sim", "app")
    local = tmp_path / "upload.txt"
    local.write_text("to the pod\n")
    kubectl(workloads, "cp", str(local), "sim:uploaded.txt", "-c", "app")
    inside = podfiles.pod_dir(host.home, "default", "sim") / "uploaded.txt"
    assert inside.read_text() == "to the pod\n"
    inside.write_text("from the pod\n")
    back = tmp_path / "download.txt"
    kubectl(workloads, "cp", "sim:uploaded.txt", str(back), "-c", "app")
    assert back.read_text() == "from the pod\n"


def test_a_pods_files_go_with_it_and_a_new_pod_starts_afresh(host: Host) -> None:
    kc = host.kubeconfig
    log = log_of(host, "ephemeral", "ephemeral")
    kubectl(kc, "run", "ephemeral", "--image=nginx")
    started(host, "ephemeral", "ephemeral")
    append(log, "printed by the first pod")
    kubectl(kc, "delete", "pod", "ephemeral")
    wait_for("the pod's directory to go", lambda: not log.parent.exists(), timeout=60)
    kubectl(kc, "run", "ephemeral", "--image=nginx")
    started(host, "ephemeral", "ephemeral")
    assert kubectl(kc, "logs", "ephemeral").stdout == "container ephemeral started (image nginx)\n"
    kubectl(kc, "delete", "pod", "ephemeral")


def test_jobs_reach_their_conditions(workloads: Path) -> None:
    jobs.check(workloads)


def test_a_vclusters_job_pod_completes_on_the_host(workloads: Path) -> None:
    kubectl(
        workloads,
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/synced-job-pod",
        "--timeout=60s",
    )
