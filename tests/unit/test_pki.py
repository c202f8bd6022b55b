import datetime as dt
import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from subkube.controlplane import kubeconfig
from subkube.controlplane.pki import (
    ADMIN,
    CONTROLLER_MANAGER,
    CertPair,
    due,
    ensure_pki,
    first_service_ip,
    leaves,
    next_renewal,
    renew_leaves,
    rotate_ca,
)
from tests.unit.stale import backdate


def _sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v.value) for v in ext}


def test_serving_cert_has_the_names_clients_use(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12", extra_sans=["vc.example", "10.1.2.3"])
    sans = _sans(pki.apiserver.cert)
    assert {
        "localhost",
        "127.0.0.1",
        "10.96.0.1",
        "kubernetes.default.svc.cluster.local",
        "vc.example",
        "10.1.2.3",
    } <= sans


def test_leaf_certs_are_signed_by_their_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12")
    ca = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    for pair in (pki.apiserver, pki.client(ADMIN), pki.client(CONTROLLER_MANAGER)):
        x509.load_pem_x509_certificate(pair.cert.read_bytes()).verify_directly_issued_by(ca)
    fp_ca = x509.load_pem_x509_certificate(pki.front_proxy_ca.cert.read_bytes())
    x509.load_pem_x509_certificate(
        pki.front_proxy_client.cert.read_bytes()
    ).verify_directly_issued_by(fp_ca)


def test_admin_is_in_system_masters(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12")
    subject = x509.load_pem_x509_certificate(pki.client(ADMIN).cert.read_bytes()).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters"
    ]


def test_pki_is_reused_and_serving_cert_reissued_only_when_names_change(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12")
    ca_before = pki.ca.cert.read_bytes()
    serving_before = pki.apiserver.cert.read_bytes()
    sa_before = pki.sa_private.read_bytes()
    ensure_pki(tmp_path, service_cidr="10.96.0.0/12")
    assert pki.apiserver.cert.read_bytes() == serving_before
    ensure_pki(tmp_path, service_cidr="10.96.0.0/12", extra_sans=["new.example"])
    assert pki.apiserver.cert.read_bytes() != serving_before
    assert "new.example" in _sans(pki.apiserver.cert)
    assert pki.ca.cert.read_bytes() == ca_before
    assert pki.sa_private.read_bytes() == sa_before
    assert (pki.ca.key.stat().st_mode & 0o777) == 0o600


def test_first_service_ip() -> None:
    assert first_service_ip("10.96.0.0/12") == "10.96.0.1"
    assert first_service_ip("172.20.0.0/16") == "172.20.0.1"
    assert ipaddress.ip_address(first_service_ip("fd00::/108")) == ipaddress.ip_address("fd00::1")


def test_kubeconfig_embeds_credentials(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_cidr="10.96.0.0/12")
    path = kubeconfig.write(
        tmp_path / "k.yaml",
        kubeconfig.build(
            server="https://127.0.0.1:6443",
            ca_cert=pki.ca.cert,
            client=pki.client(ADMIN),
            cluster="c1",
            user="admin",
        ),
    )
    data = yaml.safe_load(path.read_text())
    assert data["current-context"] == "c1"
    assert data["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert data["users"][0]["user"]["client-key-data"]
    assert (path.stat().st_mode & 0o777) == 0o600


def _cert(pair: CertPair) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pair.cert.read_bytes())


def test_leaves_live_for_the_configured_lifetime(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12", leaf_lifetime=dt.timedelta(minutes=2))
    names = {pair.cert.stem for pair in leaves(pki)}
    assert {
        "apiserver",
        "runner",
        "admin",
        "controller-manager",
        "scheduler",
        "apiserver-kubelet-client",
        "front-proxy-client",
    } <= names
    assert not {"ca", "front-proxy-ca"} & names
    for pair in leaves(pki):
        cert = _cert(pair)
        # Backdated by a tenth of the lifetime: a 2-minute leaf is due after about 94 s.
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(seconds=132)
    ca = _cert(pki.ca)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > dt.timedelta(days=3000)


def test_due_names_the_leaves_past_80_percent(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12", leaf_lifetime=dt.timedelta(minutes=2))
    issued = _cert(pki.apiserver).not_valid_before_utc + dt.timedelta(seconds=12)
    assert due(pki, issued + dt.timedelta(seconds=90)) == []
    assert due(pki, issued + dt.timedelta(seconds=100)) == leaves(pki)
    assert due(pki, issued + dt.timedelta(days=1)) == leaves(pki)
    renewal = next_renewal(pki) - issued
    assert dt.timedelta(seconds=90) < renewal < dt.timedelta(seconds=100)


def test_renewal_keeps_subject_names_and_key_and_changes_only_the_certificates(
    tmp_path: Path,
) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12", extra_sans=["vc.example"])
    before = {pair.cert.stem: (_cert(pair), pair.key.read_bytes()) for pair in leaves(pki)}
    ca_before = pki.ca.cert.read_bytes()
    renew_leaves(pki, dt.timedelta(hours=2))
    ca = _cert(pki.ca)
    fp_ca = _cert(pki.front_proxy_ca)
    for pair in leaves(pki):
        old, key = before[pair.cert.stem]
        new = _cert(pair)
        assert new.serial_number != old.serial_number
        assert new.subject == old.subject
        assert pair.key.read_bytes() == key
        assert new.not_valid_after_utc < old.not_valid_after_utc  # 2 h now, a year before
        assert [e.oid for e in new.extensions] == [e.oid for e in old.extensions]
        new.verify_directly_issued_by(fp_ca if pair == pki.front_proxy_client else ca)
    assert "vc.example" in _sans(pki.apiserver.cert)
    assert pki.ca.cert.read_bytes() == ca_before
    assert not list(tmp_path.glob(".*.tmp"))


def test_rotating_the_ca_reissues_every_leaf_and_key_under_new_cas(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12")
    old_ca, old_fp_ca = _cert(pki.ca), _cert(pki.front_proxy_ca)
    keys = {pair.cert.stem: pair.key.read_bytes() for pair in leaves(pki)}
    sa_before = pki.sa_private.read_bytes()
    rotate_ca(pki, dt.timedelta(days=1))
    ca, fp_ca = _cert(pki.ca), _cert(pki.front_proxy_ca)
    assert ca.public_key() != old_ca.public_key()
    assert fp_ca.public_key() != old_fp_ca.public_key()
    assert ca.subject == old_ca.subject
    for pair in leaves(pki):
        assert pair.key.read_bytes() != keys[pair.cert.stem]
        cert = _cert(pair)
        cert.verify_directly_issued_by(fp_ca if pair == pki.front_proxy_client else ca)
        with pytest.raises(InvalidSignature):
            cert.verify_directly_issued_by(old_fp_ca if pair == pki.front_proxy_client else old_ca)
    # Service-account tokens stay valid: their signing key is not a certificate.
    assert pki.sa_private.read_bytes() == sa_before
    assert (pki.ca.key.stat().st_mode & 0o777) == 0o600
    assert (pki.client(ADMIN).key.stat().st_mode & 0o777) == 0o600


def test_a_pki_past_due_is_renewed_when_the_control_plane_starts(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, service_cidr="10.96.0.0/12", leaf_lifetime=dt.timedelta(minutes=2))
    # As if the control plane had been stopped for a day.
    backdate(pki, expired=False)
    assert due(pki, dt.datetime.now(dt.UTC)) == leaves(pki)
    ensure_pki(tmp_path, service_cidr="10.96.0.0/12", leaf_lifetime=dt.timedelta(minutes=2))
    assert due(pki, dt.datetime.now(dt.UTC)) == []
    assert _cert(pki.apiserver).extensions.get_extension_for_class(x509.SubjectAlternativeName)
