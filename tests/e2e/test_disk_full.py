"""The disk under a vcluster's store fills up: writes fail with an error the tenant sees,
reads go on, nothing stored is damaged, and once space is back the vcluster takes writes
again without a restart by hand. The store sits on a small tmpfs of its own (mounting one
needs root)."""

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import kubectl, wait_for
from tests.e2e.lab import HostLab

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 and not shutil.which("sudo"), reason="mounting a tmpfs needs root"
    ),
]

NS, VC = "full", "vd"
SIZE = "64m"
MIB = 1024 * 1024


def as_root(*argv: str) -> None:
    subprocess.run([*([] if os.geteuid() == 0 else ["sudo", "-n"]), *argv], check=True)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[HostLab, Path]]:
    lab = HostLab(tmp_path)
    store = lab.state / "vclusters" / NS / VC / "data" / "controlplane" / "kine"
    store.mkdir(parents=True)
    as_root("mount", "-t", "tmpfs", "-o", f"size={SIZE}", "subkube-test-store", str(store))
    try:
        with lab.running("full", nodes=1):
            res = lab.cli("create", VC, "-n", NS, "--no-connect")
            assert res.returncode == 0, res.stdout + res.stderr
            lab.kc[VC] = Path(lab.cli("kubeconfig", VC, "-n", NS).stdout.strip())
            yield lab, store
    finally:
        as_root("umount", "--lazy", str(store))


def configmaps(kc: Path) -> dict[str, dict[str, str]]:
    items = json.loads(kubectl(kc, "get", "configmaps", "-l", "set=kept", "-o", "json").stdout)
    return {c["metadata"]["name"]: c["data"] for c in items["items"]}


def test_a_full_store_refuses_writes_keeps_data_and_recovers(
    lab: tuple[HostLab, Path],
) -> None:
    hostlab, store = lab
    kc = hostlab.kc[VC]
    for i in range(20):
        kubectl(kc, "create", "configmap", f"kept-{i}", f"--from-literal=value=v{i}")
        kubectl(kc, "label", "configmap", f"kept-{i}", "set=kept")
    kept = configmaps(kc)
    assert len(kept) == 20

    # The disk fills up to its last 2 MiB: below the runner's floor (a tenth of this small
    # disk), above nothing.
    filler = store / "filler"
    room = shutil.disk_usage(store).free // MIB - 2
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={filler}", "bs=1M", f"count={room}"],
        capture_output=True,
        check=True,
    )
    attempts = itertools.count()
    acknowledged = []

    def refused() -> str:
        name = f"late-{next(attempts)}"
        tried = kubectl(kc, "create", "configmap", name, "--from-literal=a=b", check=False)
        if tried.returncode == 0:
            acknowledged.append(name)
        return tried.stderr

    error = wait_for("a write refused", refused, 60)
    assert "the vcluster's store is out of disk space" in error, error
    # Reads go on while no write can, and deletes, to make room.
    assert configmaps(kc) == kept
    kubectl(kc, "delete", "configmap", "kept-19")
    del kept["kept-19"]

    filler.unlink()
    wait_for(
        "writes taken again",
        lambda: (
            kubectl(
                kc, "create", "configmap", "after", "--from-literal=a=b", check=False
            ).returncode
            == 0
        ),
        60,
    )
    # Every write the API acknowledged is there.
    for name in acknowledged:
        assert kubectl(kc, "get", "configmap", name, check=False).returncode == 0, name
    assert configmaps(kc) == kept
    kubectl(kc, "create", "deployment", "web", "--image=nginx")
    wait_for(
        "its pod synced and Running",
        lambda: "Running" in kubectl(kc, "get", "pods", "-l", "app=web").stdout,
        120,
    )
    with sqlite3.connect(f"file:{store / 'state.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
