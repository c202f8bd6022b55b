"""Twenty vclusters on one host, created all at once and deleted all at once: every one
comes up, and afterwards the host holds nothing of theirs and no process of theirs runs."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.daemonize import pid_alive
from tests.conftest import namespace_snapshot, wait_for
from tests.e2e.lab import HostLab

pytestmark = pytest.mark.e2e

COUNT = 20
NAMESPACES = ("many-a", "many-b", "many-c", "many-d")
HOST_FILLS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    with HostLab(tmp_path_factory.mktemp("many")).running("many", nodes=2) as lab:
        yield lab


def all_at_once(lab: HostLab, argvs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run the CLI once per ARGV, all of them together."""
    venv_bin = Path(sys.executable).parent
    env = {**lab.env, "COLUMNS": "200"}
    procs = [
        subprocess.Popen(
            [str(venv_bin / "subkube"), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for argv in argvs
    ]
    done = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=700)
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


def failed(done: list[subprocess.CompletedProcess[str]]) -> str:
    """Every run that failed, with its whole error output: one in twenty fails rarely."""
    return "\n".join(
        f"subkube {' '.join(r.args)} exited {r.returncode}:\n{r.stderr}"
        for r in done
        if r.returncode
    )


def cluster_scoped_of_subkube(lab: HostLab) -> list[str]:
    """Cluster-scoped host objects that name a vcluster in their labels."""
    out = lab.host_json("get", "clusterroles,clusterrolebindings,priorityclasses,storageclasses")
    return [
        o["metadata"]["name"]
        for o in out["items"]
        if any(k.startswith("subkube.io/") for k in (o["metadata"].get("labels") or {}))
    ]


def test_twenty_vclusters_created_and_deleted_concurrently(lab: HostLab) -> None:
    for ns in NAMESPACES:
        lab.host("create", "namespace", ns)
    # What the host's own controllers put in every new namespace is there before the count.
    for ns in NAMESPACES:
        wait_for(
            f"{ns} filled by the host's controllers",
            lambda ns=ns: namespace_snapshot(lab.host_kc, ns) >= HOST_FILLS,
            60,
        )
    before = {ns: namespace_snapshot(lab.host_kc, ns) for ns in NAMESPACES}
    cluster_before = cluster_scoped_of_subkube(lab)
    placed = [(f"v{i}", NAMESPACES[i % len(NAMESPACES)]) for i in range(COUNT)]

    # Twenty control planes start on the suite's two cores, next to another worker's tests:
    # the point is that all of them come up, not how soon.
    created = all_at_once(
        lab, [["create", n, "-n", ns, "--no-connect", "--timeout", "600"] for n, ns in placed]
    )
    why = failed(created)
    assert not why, why
    rows: list[dict[str, Any]] = json.loads(lab.cli("list", "-o", "json").stdout)
    assert sorted((r["name"], r["status"]) for r in rows) == sorted(
        (n, "Running") for n, _ in placed
    )
    pids = []
    for name, ns in placed:
        state = lab.daemon_state("vclusters", ns, name)
        pids += [state["pid"], *state["components"].values()]
        # Each one answers as a cluster of its own.
        assert lab.host("-n", ns, "get", "service", name).returncode == 0

    deleted = all_at_once(lab, [["delete", n, "-n", ns] for n, ns in placed])
    why = failed(deleted)
    assert not why, why
    assert json.loads(lab.cli("list", "-o", "json").stdout or "[]") == []
    assert not [p for p in pids if pid_alive(p)]
    for ns in NAMESPACES:
        assert namespace_snapshot(lab.host_kc, ns) == before[ns], ns
    assert cluster_scoped_of_subkube(lab) == cluster_before
