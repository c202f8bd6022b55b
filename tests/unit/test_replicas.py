"""controlPlane.highAvailability's pure parts and its election, against the in-memory API:
who each replica is, the etcd cluster's flags, the PKI the replicas share, the Lease that
picks the one that syncs, and the addresses the local host gives each replica's container."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import ValidationError

from subkube.config.model import Config
from subkube.controlplane import etcd, pki
from subkube.errors import SubkubeError
from subkube.hostcluster import podspec
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import LEASES, SECRETS
from subkube.kube.rest import Obj
from subkube.runner import leader, replicas
from subkube.runner.vcluster import store_of

OWNER: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vh", "uid": "u-1"}}


def ha(**plane: object) -> Config:
    return Config.model_validate({"controlPlane": {"highAvailability": {"replicas": 3}, **plane}})


# --- config ------------------------------------------------------------------------------


def test_replicas_default_to_the_embedded_etcd() -> None:
    assert store_of(ha()) == {"store": "etcd"}
    assert store_of(Config()) == {"store": "kine"}
    assert ha().highly_available
    assert not Config().highly_available


@pytest.mark.parametrize(
    ("plane", "message"),
    [
        ({"backingStore": {"database": {"embedded": {"enabled": True}}}}, "a store the replicas"),
        ({"statefulSet": {"persistence": {"enabled": False}}}, "persistence"),
    ],
)
def test_replicas_refuse_what_they_cannot_share(plane: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ha(**plane)


def test_replicas_without_persistence_are_fine_on_an_external_store() -> None:
    external = {"etcd": {"external": {"enabled": True, "endpoint": "https://etcd:2379"}}}
    ha(backingStore=external, statefulSet={"persistence": {"enabled": False}})


def test_replicas_do_not_sleep() -> None:
    with pytest.raises(ValidationError, match="autoSleep"):
        Config.model_validate(
            {
                "controlPlane": {"highAvailability": {"replicas": 3}},
                "sleepMode": {"autoSleep": {"afterInactivity": "30m"}},
            }
        )


# --- who a replica is --------------------------------------------------------------------


def test_a_replica_knows_its_peers_by_their_stable_names() -> None:
    me = replicas.replica("vh", "ns", 3, "vh-1", "10.0.0.7")
    assert me.name == "vh-1"
    assert me.listen_ip == "10.0.0.7"
    assert me.members == {
        "vh-0": "vh-0.vh-headless.ns.svc",
        "vh-1": "vh-1.vh-headless.ns.svc",
        "vh-2": "vh-2.vh-headless.ns.svc",
    }


@pytest.mark.parametrize(("pod", "ip"), [("vh-3", "10.0.0.7"), ("", "10.0.0.7"), ("vh-0", "")])
def test_a_replica_outside_the_statefulset_is_refused(pod: str, ip: str) -> None:
    with pytest.raises(SubkubeError):
        replicas.replica("vh", "ns", 3, pod, ip)


def test_etcd_members_bootstrap_one_cluster_over_peer_tls(tmp_path: Path) -> None:
    cluster = etcd.Cluster(
        members={"vh-0": "https://vh-0.h:2380", "vh-1": "https://vh-1.h:2380"},
        listen_ip="10.0.0.7",
        token="vh.ns",
        ca=tmp_path / "ca.crt",
        cert=tmp_path / "etcd-peer.crt",
        key=tmp_path / "etcd-peer.key",
    )
    argv = etcd.argv(Path("etcd"), tmp_path, "vh-1", 2379, 0, 2381, cluster)
    assert "--listen-peer-urls=https://10.0.0.7:2380" in argv
    assert "--initial-advertise-peer-urls=https://vh-1.h:2380" in argv
    assert "--initial-cluster=vh-0=https://vh-0.h:2380,vh-1=https://vh-1.h:2380" in argv
    assert "--peer-client-cert-auth" in argv
    assert f"--peer-cert-file={tmp_path / 'etcd-peer.crt'}" in argv
    # Clients stay on loopback: only the replica's own API server uses its member.
    assert "--listen-client-urls=http://127.0.0.1:2379" in argv


# --- the shared PKI ----------------------------------------------------------------------


def test_a_replica_adopts_the_shared_files_and_reissues_its_leaves(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    files = pki.make_shared(first)
    assert set(files) == {"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key"} | {
        "sa.key",
        "sa.pub",
    }
    pki.ensure_pki(second, service_cidr="10.96.0.0/12")
    old_leaf = (second / "apiserver.crt").read_bytes()
    pki.adopt_shared(second, files)
    assert not (second / "apiserver.crt").exists()
    made = pki.ensure_pki(
        second, service_cidr="10.96.0.0/12", peer_names=["vh-1.vh-headless.ns.svc", "10.0.0.7"]
    )
    assert (second / "apiserver.crt").read_bytes() != old_leaf
    for name in ("ca.crt", "ca.key", "sa.key"):
        assert (second / name).read_bytes() == files[name]
    ca = x509.load_pem_x509_certificate(files["ca.crt"])
    peer = x509.load_pem_x509_certificate(made.etcd_peer.cert.read_bytes())
    peer.verify_directly_issued_by(ca)
    usage = peer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    sans = peer.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(v.value) for v in sans} == {"vh-1.vh-headless.ns.svc", "10.0.0.7", "127.0.0.1"}


async def test_the_first_replica_publishes_the_pki_and_the_others_take_it(
    tmp_path: Path,
) -> None:
    host = MemoryKube()
    await replicas.share_pki(host, "ns", "vh", tmp_path / "a", OWNER)
    await replicas.share_pki(host, "ns", "vh", tmp_path / "b", OWNER)
    assert (tmp_path / "a" / "ca.crt").read_bytes() == (tmp_path / "b" / "ca.crt").read_bytes()
    secret = await host.get(SECRETS, "vc-vh-pki", "ns")
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"


# --- the election ------------------------------------------------------------------------


def elector(host: MemoryKube, identity: str) -> leader.Elector:
    return leader.Elector(host, "ns", "vh-syncer", identity, OWNER)


async def test_one_candidate_leads_and_a_released_lease_passes_at_once() -> None:
    host = MemoryKube()
    a, b = elector(host, "vh-0"), elector(host, "vh-1")
    assert await a._try()
    assert not await b._try()
    assert await a._try()  # renewing
    await a.release()
    assert await b._try()
    lease = await host.get(LEASES, "vh-syncer", "ns")
    assert lease["spec"]["holderIdentity"] == "vh-1"
    assert lease["spec"]["leaseTransitions"] == 1
    assert lease["metadata"]["ownerReferences"][0]["name"] == "vh"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The election's monotonic clock, moved by the test."""
    now = [100.0]
    monkeypatch.setattr(leader.time, "monotonic", lambda: now[0])
    return now


async def test_a_holder_that_stops_renewing_loses_the_lease_after_its_duration(
    clock: list[float],
) -> None:
    host = MemoryKube()
    a, b = elector(host, "vh-0"), elector(host, "vh-1")
    assert await a._try()
    assert not await b._try()
    clock[0] += leader.LEASE_SECONDS - 1
    assert not await b._try()
    clock[0] += 2
    assert await b._try()
    # The old leader finds the record changed under it and does not take it back.
    assert not await a._try()


async def test_two_candidates_racing_for_an_expired_lease_yield_one_leader(
    clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = MemoryKube()
    old, a, b = elector(host, "vh-0"), elector(host, "vh-1"), elector(host, "vh-2")
    assert await old._try()
    assert not await a._try()
    assert not await b._try()
    clock[0] += leader.LEASE_SECONDS + 1
    stale = await host.get(LEASES, "vh-syncer", "ns")
    assert await a._try()
    # B acts on the record it read before A's update: the resourceVersion refuses it.
    monkeypatch.setattr(host, "get_or_none", _returning(stale))
    assert not await b._try()


def _returning(obj: Obj) -> Callable[..., Awaitable[Obj]]:
    async def get_or_none(*_: object) -> Obj:
        return obj

    return get_or_none


# --- the local host's addresses ----------------------------------------------------------


def test_each_pod_has_a_loopback_address_of_its_own_that_its_peers_know() -> None:
    a = podspec.pod_address("ns", "vh-0")
    assert a == podspec.pod_address("ns", "vh-0")
    assert a != podspec.pod_address("ns", "vh-1")
    assert a.startswith("127.")
    assert a != "127.0.0.1"
    pod = {
        "metadata": {"name": "vh-1", "namespace": "ns"},
        "spec": {"hostname": "vh-1", "subdomain": "vh-headless"},
    }
    hosts = podspec.peer_hosts(pod, 3)
    assert hosts["vh-0.vh-headless.ns.svc"] == a
    assert hosts["vh-2.vh-headless.ns.svc.cluster.local"] == podspec.pod_address("ns", "vh-2")
    assert len(hosts) == 6
    assert podspec.peer_hosts({"metadata": pod["metadata"], "spec": {}}, 3) == {}
    seen = podspec.with_address(pod, a)
    assert podspec.field_value(seen, "status.podIP") == a
