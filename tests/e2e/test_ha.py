"""controlPlane.highAvailability on the local host, with three real runner containers: an
etcd cluster across them, an API server in each, one syncer elected by a host Lease, and a
failover that loses and duplicates nothing."""

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.binaries.catalog import locate
from tests.conftest import kubectl, subkube, wait_for
from tests.e2e.lab import HostLab
from tests.e2e.test_chart import runner_containers

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("runner_image")]

NS = "ha-ns"
REPLICAS = ["vh-0", "vh-1", "vh-2"]
CONFIG = "controlPlane:\n  highAvailability:\n    replicas: 3\n"
PODS = 50
MEMBER_LIST = ("member", "list", "-w", "json")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, runner_image: str | None) -> Iterator[HostLab]:
    if runner_image is None:
        pytest.fail("replicas need real containers: install podman and runc (`make setup`)")
    with HostLab(tmp_path_factory.mktemp("ha")).running("ha", nodes=3) as lab:
        lab.host("create", "namespace", NS)
        yield lab


def leader(lab: HostLab) -> str:
    lease = lab.host_json("-n", NS, "get", "lease", "vh-syncer")
    return str(lease["spec"].get("holderIdentity") or "")


def members(lab: HostLab, pod: str) -> list[dict[str, Any]]:
    """The etcd members, as the member in POD lists them (its client port is on loopback,
    which the local host's containers share)."""
    ports = lab.host(
        "-n",
        NS,
        "exec",
        pod,
        "--",
        "sh",
        "-c",
        "cat /data/vclusters/*/*/data/controlplane/ports.json",
    )
    port = json.loads(ports.stdout)["store"]
    listed = subprocess.run(
        [str(locate("etcdctl")), f"--endpoints=http://127.0.0.1:{port}", *MEMBER_LIST],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return list(json.loads(listed.stdout)["members"])


def started_members(lab: HostLab, pod: str) -> list[dict[str, Any]] | None:
    """The members, once every one has started (an unstarted member has no name yet)."""
    found = members(lab, pod)
    return found if all(m.get("name") for m in found) else None


def tenant_pods_on_host(lab: HostLab) -> list[str]:
    names = lab.host("-n", NS, "get", "pods", "-o", "name").stdout.split()
    return [n for n in names if n.endswith("-x-default-x-vh")]


def available(kubeconfig: Path, deployment: str) -> int | None:
    got = kubectl(kubeconfig, "get", "deployment", deployment, "-o", "json", check=False)
    if got.returncode != 0:
        return None
    return json.loads(got.stdout)["status"].get("availableReplicas")


def wait_for_first(count: Callable[[], int], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := count():
            return found
    pytest.fail("timed out waiting for the first host pod")


class Prober:
    """Asks the virtual API whether it is ready, through the user's port-forward, every
    200 ms in a thread, and keeps (time, answered)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.results: list[tuple[float, bool]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            res = kubectl(
                self.kubeconfig, "get", "--raw", "/readyz", "--request-timeout=2s", check=False
            )
            self.results.append((time.monotonic(), res.returncode == 0))
            self.stopping.wait(0.2)

    def __enter__(self) -> "Prober":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(30)

    def gaps(self) -> list[float]:
        """Each run of unanswered probes, as the time from the last answer before it to the
        first answer after it."""
        out, last_ok, failing = [], None, False
        for at, ok in self.results:
            if ok:
                if failing and last_ok is not None:
                    out.append(at - last_ok)
                last_ok, failing = at, False
            else:
                failing = True
        return out


def test_three_replicas_share_etcd_and_fail_over(lab: HostLab, tmp_path: Path) -> None:
    config = tmp_path / "ha.yaml"
    config.write_text(CONFIG)
    user_kc = tmp_path / "user-kubeconfig"
    user_kc.write_bytes(lab.host_kc.read_bytes())
    env = {**lab.env, "KUBECONFIG": str(user_kc)}
    res = subkube("create", "vh", "-n", NS, "--driver", "helm", "-f", str(config), env=env)
    assert res.returncode == 0, res.stdout + res.stderr

    # Three pods of the StatefulSet, each a container of the runner image.
    pods = lab.host_json("-n", NS, "get", "pods", "-l", "app.kubernetes.io/instance=vh")
    assert sorted(p["metadata"]["name"] for p in pods["items"]) == REPLICAS
    assert len(runner_containers(lab.env, "ha")) == 3
    # The embedded etcd is one cluster of three, members talking TLS by their DNS names.
    found = wait_for(
        "three started etcd members",
        lambda: started_members(lab, "vh-0"),
    )
    assert sorted(str(m["name"]) for m in found) == REPLICAS
    assert all(
        m["peerURLs"][0].startswith(f"https://{m['name']}.vh-headless.{NS}.svc:") for m in found
    )
    # One leads; the chart's Role lets it hold the Lease, in its namespace only.
    first = wait_for("a leader", lambda: leader(lab))
    assert first in REPLICAS
    role = lab.host_json("-n", NS, "get", "role", "vc-vh")
    assert any("leases" in r["resources"] for r in role["rules"])
    # Each replica serves the API from the one store: what is written through one is read
    # through every replica's own front door.
    kubectl(user_kc, "create", "namespace", "through-one")
    for pod in REPLICAS:
        forward = lab.host_json("-n", NS, "get", "portforwards.kwok.x-k8s.io", pod)
        port = forward["spec"]["forwards"][0]["target"]["port"]
        got = kubectl(
            user_kc, "--server", f"https://127.0.0.1:{port}", "get", "namespace", "through-one"
        )
        assert got.returncode == 0, got.stderr

    with Prober(user_kc) as prober:
        kubectl(user_kc, "create", "deployment", "big", "--image=nginx", f"--replicas={PODS}")
        # The leader goes while the syncer copies the Deployment's pods: once the first is on
        # the host (polled without pause, so most are still to come).
        synced_before = wait_for_first(lambda: len(tenant_pods_on_host(lab)))
        lab.host("-n", NS, "delete", "pod", first, "--wait=false")
        deleted_at = time.monotonic()
        successor = wait_for("another replica to lead", lambda: (x := leader(lab)) != first and x)
        took_over = time.monotonic() - deleted_at
        wait_for(f"{PODS} host pods", lambda: len(tenant_pods_on_host(lab)) == PODS)
        running = wait_for(
            "the deleted replica back",
            lambda: (
                lab.host_json("-n", NS, "get", "pod", first)["status"].get("phase") == "Running"
            ),
        )
        assert running
        # Through the user's port-forward, which may itself be between pods for a moment.
        wait_for(f"{PODS} pods available inside", lambda: available(user_kc, "big") == PODS)
        # Long enough for a duplicate to show, were the two leaders both copying.
        time.sleep(3)
    # Nothing lost, nothing doubled: exactly one host pod per virtual pod.
    assert len(tenant_pods_on_host(lab)) == PODS
    assert successor in REPLICAS
    # The replaced replica rejoined its etcd cluster with the data its claim kept.
    again = wait_for(
        "the member back",
        lambda: started_members(lab, first),
    )
    assert sorted(str(m["name"]) for m in again) == REPLICAS
    # The new leader's kubelet endpoint is the one the nodes inside now name.
    inside = wait_for(
        "exec through the new leader",
        lambda: kubectl(user_kc, "exec", "deploy/big", "--", "echo", "inside", check=False).stdout,
    )
    assert inside == "inside\n"
    assert "started" in kubectl(user_kc, "logs", "deploy/big").stdout
    # The API answered throughout but for at most one gap, and answers at the end.
    gaps = prober.gaps()
    assert len(gaps) <= 1, gaps
    assert prober.results[-1][1]
    print(
        f"failover: {synced_before}/{PODS} synced when {first} was deleted; {successor} led "
        f"after {took_over:.1f}s; API gap {max(gaps, default=0):.1f}s "
        f"over {len(prober.results)} probes"
    )

    # Pause and resume take all replicas down and up; delete leaves nothing behind.
    assert lab.cli("pause", "vh", "-n", NS).returncode == 0
    assert not lab.host_json("-n", NS, "get", "pods", "-l", "app.kubernetes.io/instance=vh")[
        "items"
    ]
    assert lab.cli("resume", "vh", "-n", NS).returncode == 0
    assert "namespace/through-one" in kubectl(user_kc, "get", "namespaces", "-o", "name").stdout
    assert lab.cli("delete", "vh", "-n", NS).returncode == 0
    wait_for("the containers gone", lambda: runner_containers(lab.env, "ha") == [])
    wait_for(
        "the replicas' claims and Lease gone",
        lambda: not lab.host("-n", NS, "get", "pvc,lease", "-o", "name").stdout.strip(),
    )
