"""A syncer whose watches expire: while it is stalled the tenant scales up and deletes pods,
the virtual API server dies with the events it had not delivered, and the store is
compacted past every resourceVersion the syncer holds. Back, its watches get 410 Gone and
it relists: nothing is lost, duplicated or left behind on the host.

The vcluster's API server runs without its watch cache, so watches are served by etcd and
expire by compaction, as they do for any client that was away too long."""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import kubectl, require_binary, wait_for
from tests.e2e.lab import HostLab

pytestmark = pytest.mark.e2e

NS, VC = "expiry", "vx"
CONFIG = """controlPlane:
  backingStore: {etcd: {embedded: {enabled: true}}}
  apiServer: {extraArgs: ["--watch-cache=false"]}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[HostLab]:
    with HostLab(tmp_path).running("expiry", nodes=2) as lab:
        config = tmp_path / "vx.yaml"
        config.write_text(CONFIG)
        res = lab.cli("create", VC, "-n", NS, "--no-connect", "-f", str(config))
        assert res.returncode == 0, res.stdout + res.stderr
        lab.kc[VC] = Path(lab.cli("kubeconfig", VC, "-n", NS).stdout.strip())
        yield lab


def vcluster_file(lab: HostLab, *parts: str) -> Path:
    return lab.state.joinpath("vclusters", NS, VC, *parts)


def converged(lab: HostLab, replicas: int) -> str:
    """ "" once REPLICAS pods are Running inside, each with exactly one host copy and no
    host copy without its pod; else what is off."""
    inside = [
        p
        for p in json.loads(kubectl(lab.kc[VC], "get", "pods", "-o", "json").stdout)["items"]
        if "deletionTimestamp" not in p["metadata"]
    ]
    copies = lab.host_json("-n", NS, "get", "pods", "-l", f"subkube.io/managed-by={VC}")["items"]
    names = sorted(p["metadata"]["name"] for p in inside)
    copied = sorted(
        p["metadata"]["annotations"]["subkube.io/object-name"]
        for p in copies
        if p["metadata"]["annotations"].get("subkube.io/object-namespace") == "default"
    )
    running = sum(1 for p in inside if p.get("status", {}).get("phase") == "Running")
    if names == copied and len(names) == running == replicas:
        return ""
    return f"inside={len(names)} running={running} copies={len(copied)}"


def etcdctl(lab: HostLab, *args: str) -> str:
    ports = json.loads(vcluster_file(lab, "data", "controlplane", "ports.json").read_text())
    out = subprocess.run(
        [
            str(require_binary("etcdctl")),
            f"--endpoints=http://127.0.0.1:{ports['store']}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout


def test_watches_expired_by_compaction_are_relisted_without_loss(lab: HostLab) -> None:
    kubectl(lab.kc[VC], "create", "deployment", "app", "--image=nginx", "--replicas=30")
    wait_for("30 pods synced", lambda: not converged(lab, 30), 180)
    before = [p for p in kubectl(lab.kc[VC], "get", "pods", "-o", "name").stdout.split()]
    runner = lab.daemon_state("vclusters", NS, VC)["pid"]
    # Straight to the API server: the front door is the stalled runner's.
    direct = vcluster_file(lab, "data", "controlplane", "admin.kubeconfig")
    log = vcluster_file(lab, "vcluster.log")
    logged = log.stat().st_size

    os.kill(runner, signal.SIGSTOP)
    try:
        kubectl(direct, "scale", "deployment", "app", "--replicas=60")
        kubectl(direct, "delete", "--wait=false", *before[:10])
        wait_for(
            "the new pods made inside",
            lambda: len(kubectl(direct, "get", "pods", "-o", "name").stdout.split()) >= 70,
        )
        os.kill(
            lab.daemon_state("vclusters", NS, VC)["components"]["kube-apiserver"], signal.SIGKILL
        )
        status = json.loads(etcdctl(lab, "endpoint", "status", "-w", "json"))
        revision = status[0]["Status"]["header"]["revision"]
        etcdctl(lab, "compact", str(revision))
    finally:
        os.kill(runner, signal.SIGCONT)

    wait_for("60 pods, each synced once", lambda: not converged(lab, 60), 300)
    with log.open() as fh:
        fh.seek(logged)
        after = fh.read()
    assert 'msg="resourceVersion too old, relisting" informer=virtual-pods' in after
    # The ten deleted while the syncer was away are gone from both sides.
    for name in before[:10]:
        pod = name.removeprefix("pod/")
        assert kubectl(lab.kc[VC], "get", "pod", pod, check=False).returncode != 0
        host = lab.host("-n", NS, "get", "pod", f"{pod}-x-default-x-{VC}", check=False)
        assert host.returncode != 0
