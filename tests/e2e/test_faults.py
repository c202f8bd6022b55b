"""Faults under load: an API server dies while a burst of pods syncs. Afterwards every
virtual pod has exactly one host copy, Running inside, and the host holds nothing else of
the vcluster's (every object on both sides is listed, not sampled)."""

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.daemonize import pid_alive
from tests.conftest import kubectl, wait_for
from tests.e2e.lab import HostLab

pytestmark = pytest.mark.e2e

NS = "faults"
VC = "vf"
BURST = 500


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[HostLab]:
    """A host and a vcluster of their own for each fault: one test's damage is not the
    next one's starting point."""
    with HostLab(tmp_path).running("faults", nodes=5) as lab:
        res = lab.cli("create", VC, "-n", NS, "--no-connect")
        assert res.returncode == 0, res.stdout + res.stderr
        kc = lab.cli("kubeconfig", VC, "-n", NS).stdout.strip()
        lab.kc[VC] = Path(kc)
        yield lab


def host_copies(lab: HostLab) -> list[dict[str, Any]]:
    """Every host pod of the vcluster (its label), whatever its name."""
    return list(
        lab.host_json("-n", NS, "get", "pods", "-l", f"subkube.io/managed-by={VC}")["items"]
    )


def virtual_pods(lab: HostLab, namespace: str) -> list[dict[str, Any]]:
    out = kubectl(lab.kc[VC], "-n", namespace, "get", "pods", "-o", "json", check=False)
    return list(json.loads(out.stdout)["items"]) if out.returncode == 0 else []


class Progress:
    """How far a burst has converged: false until it has, and shown when a wait fails."""

    def __init__(self, **counts: int) -> None:
        self.counts = counts

    def __bool__(self) -> bool:
        c = self.counts
        return c["inside"] == c["copies"] == c["running"] == BURST and c["unmatched"] == 0

    def __repr__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.counts.items())


def converged(lab: HostLab, namespace: str) -> Progress:
    """BURST pods inside, all Running, each with exactly one host copy, and no host copy
    of the namespace without its virtual pod."""
    inside = [p for p in virtual_pods(lab, namespace) if "deletionTimestamp" not in p["metadata"]]
    copies = [
        p
        for p in host_copies(lab)
        if p["metadata"]["annotations"].get("subkube.io/object-namespace") == namespace
    ]
    names = sorted(p["metadata"]["name"] for p in inside)
    copied = sorted(p["metadata"]["annotations"]["subkube.io/object-name"] for p in copies)
    return Progress(
        inside=len(inside),
        copies=len(copies),
        running=sum(1 for p in inside if p.get("status", {}).get("phase") == "Running"),
        unmatched=len(set(names) ^ set(copied)) + len(copied) - len(set(copied)),
    )


def kill_mid_burst(lab: HostLab, namespace: str, pid: int) -> int:
    """Start a Deployment of BURST pods inside; once some are on the host, SIGKILL PID.
    How many were on the host then."""
    kubectl(lab.kc[VC], "create", "namespace", namespace)
    kubectl(
        lab.kc[VC],
        "-n",
        namespace,
        "create",
        "deployment",
        "burst",
        "--image=nginx",
        f"--replicas={BURST}",
    )

    def some_synced() -> int:
        return sum(
            1
            for p in host_copies(lab)
            if p["metadata"]["annotations"].get("subkube.io/object-namespace") == namespace
        )

    partial = wait_for("the first host pods", lambda: (n := some_synced()) >= 20 and n, 120)
    os.kill(pid, signal.SIGKILL)
    wait_for("the process gone", lambda: not pid_alive(pid), 30)
    return int(partial)


def removed_without_orphans(lab: HostLab, namespace: str) -> None:
    """The namespace deleted inside takes every host copy of its pods with it."""
    kubectl(lab.kc[VC], "delete", "namespace", namespace, "--wait=false")

    def left() -> list[str]:
        return [
            p["metadata"]["name"]
            for p in host_copies(lab)
            if p["metadata"]["annotations"].get("subkube.io/object-namespace") == namespace
        ]

    wait_for("the host copies gone", lambda: not left(), 300)


def test_the_host_api_server_restarted_mid_burst(lab: HostLab) -> None:
    pid = lab.daemon_state("hosts", "faults")["components"]["kube-apiserver"]
    partial = kill_mid_burst(lab, "host-restart", pid)
    # The host daemon's supervisor starts it again; the syncer reconnects and relists.
    wait_for(
        "the host API back",
        lambda: lab.host("get", "--raw", "/readyz", check=False).returncode == 0,
    )
    wait_for(
        f"exactly {BURST} host pods, Running inside", lambda: converged(lab, "host-restart"), 300
    )
    print(f"host pods when the host API server was killed: {partial}")


def test_the_virtual_api_server_restarted_mid_burst(lab: HostLab) -> None:
    pid = lab.daemon_state("vclusters", NS, VC)["components"]["kube-apiserver"]
    partial = kill_mid_burst(lab, "virtual-restart", pid)
    wait_for(
        "the virtual API back",
        lambda: kubectl(lab.kc[VC], "get", "--raw", "/readyz", check=False).returncode == 0,
    )
    wait_for(
        f"exactly {BURST} host pods, Running inside", lambda: converged(lab, "virtual-restart"), 300
    )
    print(f"host pods when the virtual API server was killed: {partial}")
    removed_without_orphans(lab, "virtual-restart")
