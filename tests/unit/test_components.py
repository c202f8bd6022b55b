"""Command lines of each component: pure functions of their inputs."""

from pathlib import Path

from subkube.controlplane import apiserver, controller_manager, etcd, kine, kwok
from subkube.controlplane.pki import PKI
from subkube.controlplane.spec import ControlPlaneSpec, assign_ports


def test_kine_uses_sqlite_in_the_data_dir_and_loopback_only() -> None:
    argv = kine.argv(Path("/bin/kine"), Path("/data"), 2379, 2380)
    assert "--endpoint=sqlite:///data/kine/state.db?_journal=WAL" in argv[1]
    assert "--listen-address=127.0.0.1:2379" in argv
    assert "--metrics-bind-address=127.0.0.1:2380" in argv


def test_etcd_is_a_single_loopback_member() -> None:
    argv = etcd.argv(Path("/bin/etcd"), Path("/data"), "h1", 1, 2, 3)
    assert "--initial-cluster=h1=http://127.0.0.1:2" in argv
    assert "--listen-client-urls=http://127.0.0.1:1" in argv
    assert "--data-dir=/data/etcd" in argv


def test_apiserver_flags() -> None:
    flags = apiserver.flags(
        pki=PKI(Path("/pki")),
        port=6443,
        store_url="http://127.0.0.1:1",
        service_cidr="10.96.0.0/12",
        cluster_domain="cluster.local",
        extra={"v": "4"},
    )
    assert flags["authorization-mode"] == "Node,RBAC"
    assert flags["bind-address"] == "127.0.0.1"
    assert flags["service-cluster-ip-range"] == "10.96.0.0/12"
    assert flags["service-account-signing-key-file"] == "/pki/sa.key"
    assert flags["requestheader-client-ca-file"] == "/pki/front-proxy-ca.crt"
    assert flags["v"] == "4"
    assert "--secure-port=6443" in apiserver.argv(Path("/bin/kube-apiserver"), flags)


def test_controller_manager_runs_the_requested_controllers() -> None:
    flags = controller_manager.flags(
        pki=PKI(Path("/pki")),
        kubeconfig=Path("/k"),
        port=1,
        cert_dir=Path("/c"),
        service_cidr="10.96.0.0/12",
        cluster_cidr="10.244.0.0/16",
        controllers=["*", "-nodeipam"],
        name="x",
    )
    assert flags["controllers"] == "*,-nodeipam"
    assert flags["use-service-account-credentials"] == "true"


def test_kwok_manages_only_annotated_nodes() -> None:
    argv = kwok.argv(
        Path("/bin/kwok"), Path("/s.yaml"), Path("/k"), 9, "10.244.0.0/16", ["Logs", "Exec"]
    )
    assert "--manage-all-nodes=false" in argv
    assert "--enable-crds=Logs,Exec" in argv
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv
    node = kwok.node_manifest("n1", pods=50)
    assert node["metadata"]["annotations"][kwok.MANAGED_ANNOTATION] == kwok.MANAGED_VALUE
    assert node["status"]["allocatable"]["pods"] == "50"
    assert "taints" not in node["spec"]


def test_ports_are_remembered_for_restarts(tmp_path: Path) -> None:
    spec = ControlPlaneSpec(name="x", data_dir=tmp_path)
    first = assign_ports(spec)
    assert len(set(first.values())) == len(first)
    assert assign_ports(spec) == first
    spec.ports = {"apiserver": 1234}
    assert assign_ports(spec)["apiserver"] == 1234
