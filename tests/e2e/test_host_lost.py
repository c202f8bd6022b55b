"""A vcluster whose host goes away under it: its host namespace deleted, the host stopped
with `host down`, the host gone without a word. Its runner stops, leaves no process behind,
and `list` and `describe` say why."""

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

HOST = "lost"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    with HostLab(tmp_path_factory.mktemp("lost")).running(HOST, nodes=1) as lab:
        yield lab


def create(lab: HostLab, name: str, namespace: str, *flags: str) -> list[int]:
    """Create NAME with one pod synced; the pids of its runner and its components."""
    res = lab.cli("create", name, "-n", namespace, "--no-connect", *flags)
    assert res.returncode == 0, res.stdout + res.stderr
    lab.kc[name] = Path(lab.cli("kubeconfig", name, "-n", namespace).stdout.strip())
    kubectl(lab.kc[name], "run", "app", "--image=nginx")
    wait_for(
        "the host copy",
        lambda: (
            lab.host(
                "-n", namespace, "get", "pod", f"app-x-default-x-{name}", check=False
            ).returncode
            == 0
        ),
    )
    recorded = lab.daemon_state("vclusters", namespace, name)
    return [recorded["pid"], *recorded["components"].values()]


def listed(lab: HostLab, name: str) -> dict[str, Any]:
    rows = json.loads(lab.cli("list", "-o", "json").stdout)
    return next(r for r in rows if r["name"] == name)


def all_gone(pids: list[int]) -> bool:
    return not any(pid_alive(p) for p in pids)


def test_the_host_namespace_deleted_under_a_running_vcluster(lab: HostLab) -> None:
    pids = create(lab, "doomed", "doomed-ns")
    lab.host("delete", "namespace", "doomed-ns", "--wait=false")

    wait_for("the runner and its control plane gone", lambda: all_gone(pids), 60)
    row = listed(lab, "doomed")
    assert row["status"] == "Stopped"
    assert "host namespace doomed-ns" in row["reason"], row
    shown = lab.cli("describe", "doomed", "-n", "doomed-ns")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "reason: host namespace doomed-ns" in shown.stdout
    # Nothing of the runner's holds the namespace back.
    wait_for(
        "the namespace gone",
        lambda: lab.host("get", "namespace", "doomed-ns", check=False).returncode != 0,
        120,
    )
    res = lab.cli("delete", "doomed", "-n", "doomed-ns")
    assert res.returncode == 0, res.stdout + res.stderr


def test_host_down_stops_its_vclusters_and_a_host_gone_silently_ends_them(lab: HostLab) -> None:
    grace = "controlPlane.advanced.hostUnreachableGrace=6s"
    pids = create(lab, "tenant", "tenant-ns", "--set", grace)

    down = lab.cli("host", "down", "--name", HOST)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped vcluster tenant in tenant-ns" in down.stdout
    assert all_gone(pids)
    row = listed(lab, "tenant")
    assert (row["status"], row["reason"]) == (
        "Stopped",
        f"host {HOST} was stopped (subkube host down)",
    )

    # Back with its host, it carries on where it was.
    lab.host_up(HOST, nodes=1)
    res = lab.cli("resume", "tenant", "-n", "tenant-ns")
    assert res.returncode == 0, res.stdout + res.stderr
    assert listed(lab, "tenant")["reason"] == ""
    assert kubectl(lab.kc["tenant"], "get", "pod", "app").returncode == 0
    recorded = lab.daemon_state("vclusters", "tenant-ns", "tenant")
    pids = [recorded["pid"], *recorded["components"].values()]

    # The host dies without a word: its API never answers again.
    os.kill(lab.daemon_state("hosts", HOST)["pid"], signal.SIGKILL)
    wait_for("the runner gone after its grace", lambda: all_gone(pids), 90)
    row = listed(lab, "tenant")
    assert row["status"] == "Stopped"
    assert row["reason"].startswith("host API unreachable for"), row
    assert "(grace 6s)" in row["reason"]
    shown = lab.cli("describe", "tenant", "-n", "tenant-ns")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "reason: host API unreachable" in shown.stdout
    assert "host: " in shown.stdout

    # Up again, for the lab to delete what is left.
    lab.host_up(HOST, nodes=1)
