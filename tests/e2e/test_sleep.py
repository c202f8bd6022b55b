"""Sleep and wake on a real local host, through the CLI and kubectl as users run them:
after inactivity, held awake by a watch, on request, on a schedule (with the test clock),
for both drivers. The host side is checked too: the tenant's pods leave and come back, the
control-plane processes are gone while asleep, the chart's pod stays."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.daemonize import pid_alive
from subkube.frontdoor.clock import TEST_CLOCK_ENV
from tests.conftest import kubectl, require_binary, subkube, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("runner_image")]

COMPONENTS = {"kine", "etcd", "kube-apiserver", "kube-controller-manager"}

NS = "sleepy"
IDLE = "sleepMode:\n  autoSleep:\n    afterInactivity: 20s\n"
# 20:00 and 08:00 in Berlin, where it is UTC+1 in March.
SCHEDULED = """\
sleepMode:
  autoSleep: {schedule: "0 20 * * *", timezone: Europe/Berlin}
  autoWakeup: {schedule: "0 8 * * 1-5", timezone: Europe/Berlin}
"""


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.user_kc = root / "user-kubeconfig"
        self.host_kc = Path()

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subkube(
            *args,
            env={"SUBKUBE_STATE_DIR": str(self.state), "KUBECONFIG": str(self.user_kc), **env},
        )

    def ok(self, *args: str, **env: str) -> str:
        res = self.cli(*args, **env)
        assert res.returncode == 0, f"subkube {' '.join(args)}: {res.stdout}{res.stderr}"
        return res.stdout

    def values(self, name: str, text: str) -> str:
        path = self.root / f"{name}.yaml"
        path.write_text(text)
        return str(path)

    def row(self, name: str) -> dict[str, Any]:
        return {r["name"]: r for r in json.loads(self.ok("list", "-o", "json"))}[name]

    def status(self, name: str) -> str:
        return str(self.row(name)["status"])

    def described(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("describe", name, "-n", NS, "-o", "json"))[0])

    def local_state(self, name: str) -> dict[str, Any]:
        return dict(json.loads((self.state / "vclusters" / NS / name / "state.json").read_text()))

    def host_pods(self, prefix: str) -> list[str]:
        out = kubectl(self.host_kc, "-n", NS, "get", "pods", "-o", "name").stdout.split()
        return [p for p in out if p.startswith(f"pod/{prefix}-")]

    def web_pods(self, vcluster: str) -> list[str]:
        return [p for p in self.host_pods("web") if p.endswith(f"-x-default-x-{vcluster}")]

    def deploy_web(self, kc: Path, vcluster: str) -> None:
        kubectl(kc, "create", "deployment", "web", "--image=nginx", "--replicas=2")
        wait_for(f"{vcluster}'s pods on the host", lambda: len(self.web_pods(vcluster)) == 2)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("sleep"))
    env = {"SUBKUBE_STATE_DIR": str(lab.state)}
    up = subkube("host", "up", "--name", "sleep", "--nodes", "1", env=env)
    assert up.returncode == 0, up.stderr
    lab.host_kc = Path(subkube("host", "kubeconfig", "--name", "sleep", env=env).stdout.strip())
    lab.user_kc.write_text(lab.host_kc.read_text())
    try:
        yield lab
    finally:
        listed = lab.cli("list", "-o", "json")
        for row in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            lab.cli("delete", row["name"], "-n", row["namespace"])
        subkube("host", "down", "--name", "sleep", "--purge", env=env)


@pytest.fixture(scope="module")
def idle(lab: Lab) -> Iterator[Path]:
    """A local vcluster that sleeps after 20 s without tenant traffic, running two pods."""
    lab.ok("create", "idle", "-n", NS, "-f", lab.values("idle", IDLE), "--no-connect")
    try:
        kc = Path(lab.ok("kubeconfig", "idle", "-n", NS).strip())
        lab.deploy_web(kc, "idle")
        yield kc
    finally:
        lab.cli("delete", "idle", "-n", NS)


def test_a_held_watch_keeps_it_awake_then_it_sleeps_with_nothing_left_running(
    lab: Lab, idle: Path
) -> None:
    watch = subprocess.Popen(
        [str(require_binary("kubectl")), f"--kubeconfig={idle}", "get", "pods", "-w"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Longer than afterInactivity and than the pause between a quiet watch's pings.
        time.sleep(50)
        assert lab.status("idle") == "Running"
    finally:
        watch.terminate()
        watch.wait()
    components = lab.local_state("idle")["components"]
    assert set(components) == {"kine", "kube-apiserver", "kube-controller-manager"}
    wait_for("the untouched vcluster to sleep", lambda: lab.status("idle") == "Sleeping", 60)
    assert not any(pid_alive(pid) for pid in components.values())
    assert lab.web_pods("idle") == [], "the tenant's pods left the host"
    assert lab.described("idle")["sleeping"]["reason"] == "inactivity"
    assert pid_alive(lab.local_state("idle")["pid"]), "the same process holds the address"


def test_the_next_request_wakes_it_and_is_answered(lab: Lab, idle: Path) -> None:
    if lab.status("idle") != "Sleeping":
        wait_for("the vcluster to sleep", lambda: lab.status("idle") == "Sleeping", 60)
    # The same kubeconfig, a plain request: answered, only later.
    namespaces = kubectl(idle, "get", "ns", "-o", "name").stdout.split()
    assert "namespace/default" in namespaces
    wait_for("it to run", lambda: lab.status("idle") == "Running", 30)
    wait_for("the tenant's pods back on the host", lambda: len(lab.web_pods("idle")) == 2)
    assert kubectl(idle, "get", "deployment", "web", "-o", "name").stdout.strip() == (
        "deployment.apps/web"
    )


def test_sleep_and_wake_on_request(lab: Lab, idle: Path) -> None:
    out = lab.ok("sleep", "idle", "-n", NS)
    assert "sleeping" in out
    assert lab.status("idle") == "Sleeping"
    assert lab.described("idle")["sleeping"]["reason"] == "manual"
    assert lab.web_pods("idle") == []
    out = lab.ok("wake", "idle", "-n", NS)
    assert "is running" in out
    assert lab.status("idle") == "Running"
    wait_for("the tenant's pods back on the host", lambda: len(lab.web_pods("idle")) == 2)
    again = lab.cli("create", "idle", "-n", NS, "--no-connect")
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_a_schedule_sleeps_and_wakes_it_at_its_minutes(lab: Lab) -> None:
    clock = lab.root / "clock"

    def tick(when: str) -> None:
        clock.write_text(when)

    tick("2026-03-02T19:58:00+01:00")
    env = {TEST_CLOCK_ENV: str(clock)}
    lab.ok("create", "sched", "-n", NS, "-f", lab.values("sched", SCHEDULED), "--no-connect", **env)
    try:
        kc = Path(lab.ok("kubeconfig", "sched", "-n", NS).strip())
        lab.deploy_web(kc, "sched")
        tick("2026-03-02T19:59:30+01:00")
        # The runner looks every second: three looks, and still awake before 20:00.
        time.sleep(3)
        assert lab.status("sched") == "Running"
        tick("2026-03-02T20:00:00+01:00")
        wait_for("the scheduled sleep at 20:00", lambda: lab.status("sched") == "Sleeping", 60)
        assert lab.described("sched")["sleeping"]["reason"] == "schedule"
        assert lab.web_pods("sched") == []
        tick("2026-03-03T07:59:00+01:00")
        time.sleep(3)
        assert lab.status("sched") == "Sleeping"
        # No request: the wake schedule alone wakes it.
        tick("2026-03-03T08:00:00+01:00")
        wait_for("the scheduled wake at 08:00", lambda: lab.status("sched") == "Running", 60)
        wait_for("the tenant's pods back on the host", lambda: len(lab.web_pods("sched")) == 2)
    finally:
        lab.cli("delete", "sched", "-n", NS)


def test_the_helm_driver_sleeps_and_wakes_with_its_pod_kept(lab: Lab) -> None:
    lab.ok("create", "vh", "-n", NS, "--driver", "helm", "-f", lab.values("vh", IDLE))
    try:
        kc = Path(lab.ok("kubeconfig", "vh", "-n", NS).strip())
        lab.deploy_web(kc, "vh")
        # Connections through `kubectl port-forward` to the local host's pods stay open
        # after their clients close: the front door waits out their liveness (45 s) too.
        wait_for("the untouched vcluster to sleep", lambda: lab.status("vh") == "Sleeping", 120)
        assert lab.described("vh")["sleeping"]["reason"] == "inactivity"
        assert lab.web_pods("vh") == []
        assert lab.host_pods("vh") == ["pod/vh-0"], "the chart's pod stays"
        claim = json.loads(
            kubectl(lab.host_kc, "-n", NS, "get", "pvc", "data-vh-0", "-o", "json").stdout
        )
        volume = json.loads(
            kubectl(lab.host_kc, "get", "pv", claim["spec"]["volumeName"], "-o", "json").stdout
        )
        assert not components_running_in(volume["spec"]["hostPath"]["path"])
        # Through the port-forward with the connected context: answered.
        assert "namespace/default" in kubectl(kc, "get", "ns", "-o", "name").stdout.split()
        # The pod un-marks itself once its control plane is ready, a moment after that.
        wait_for("it to run", lambda: lab.status("vh") == "Running", 30)
        wait_for("the tenant's pods back on the host", lambda: len(lab.web_pods("vh")) == 2)
        # On request: through `kubectl exec` into the pod.
        lab.ok("sleep", "vh", "-n", NS)
        assert lab.described("vh")["sleeping"]["reason"] == "manual"
        assert lab.web_pods("vh") == []
        lab.ok("wake", "vh", "-n", NS)
        assert lab.status("vh") == "Running"
        wait_for("the tenant's pods back on the host", lambda: len(lab.web_pods("vh")) == 2)
    finally:
        lab.cli("delete", "vh", "-n", NS)


def components_running_in(data_dir: str) -> list[str]:
    """Control-plane processes whose command line names DATA_DIR."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if Path(argv[0]).name in COMPONENTS and any(data_dir in a for a in argv):
            found.append(argv[0])
    return found
