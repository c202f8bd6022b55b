"""The context `subkube connect` merges into the user's kubeconfig: by file for a vcluster
run here (it follows the runner's renewals), embedded for one in a pod; refreshed in place
after a rotation."""

from pathlib import Path

import pytest
import yaml

from subkube.controlplane import kubeconfig as kc
from subkube.controlplane.pki import ADMIN, ensure_pki
from subkube.lifecycle.kubeconfigs import merge_into, refresh_context, vcluster_kubeconfig
from subkube.runner.state import VClusterState, controlplane_dir


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VClusterState:
    monkeypatch.setenv("SUBKUBE_STATE_DIR", str(tmp_path / "state"))
    pki = ensure_pki(controlplane_dir("team-a", "vc1") / "pki", service_cidr="10.96.0.0/12")
    admin = kc.write(
        tmp_path / "admin.kubeconfig",
        kc.build(
            server="https://127.0.0.1:39000",
            ca_cert=pki.ca.cert,
            client=pki.client(ADMIN),
            cluster="vc1",
            user="admin",
        ),
    )
    host = kc.write(tmp_path / "host.kubeconfig", {"current-context": "host"})
    return VClusterState(
        name="vc1", namespace="team-a", kubeconfig=str(admin), host_kubeconfig=str(host)
    )


def _entries(path: Path, name: str) -> tuple[dict[str, str], dict[str, str]]:
    data = yaml.safe_load(path.read_text())
    cluster = next(c["cluster"] for c in data["clusters"] if c["name"] == name)
    user = next(u["user"] for u in data["users"] if u["name"] == name)
    return cluster, user


def test_a_local_vclusters_context_names_its_certificate_files(
    state: VClusterState, tmp_path: Path
) -> None:
    target = tmp_path / "user.kubeconfig"
    name = merge_into(target, state)
    cluster, user = _entries(target, name)
    pki = controlplane_dir("team-a", "vc1") / "pki"
    assert cluster == {
        "server": "https://127.0.0.1:39000",
        "certificate-authority": str(pki / "ca.crt"),
    }
    assert user == {
        "client-certificate": str(pki / "admin.crt"),
        "client-key": str(pki / "admin.key"),
    }
    # Printed or written for elsewhere, it carries its credentials.
    printed = vcluster_kubeconfig(state)
    assert "client-key-data" in printed["users"][0]["user"]


def test_a_vcluster_in_a_pod_keeps_its_credentials_embedded(
    state: VClusterState, tmp_path: Path
) -> None:
    state.driver = "helm"
    target = tmp_path / "user.kubeconfig"
    _, user = _entries(target, merge_into(target, state))
    assert set(user) == {"client-certificate-data", "client-key-data"}


def test_refresh_rewrites_an_existing_context_and_leaves_the_current_one(
    state: VClusterState, tmp_path: Path
) -> None:
    target = tmp_path / "user.kubeconfig"
    assert not refresh_context(target, state)
    assert not target.exists()
    state.driver = "helm"
    name = merge_into(target, state)
    data = yaml.safe_load(target.read_text())
    data["current-context"] = "elsewhere"
    kc.write(target, data)
    state.driver = "local"
    assert refresh_context(target, state)
    assert yaml.safe_load(target.read_text())["current-context"] == "elsewhere"
    assert "client-certificate" in _entries(target, name)[1]
