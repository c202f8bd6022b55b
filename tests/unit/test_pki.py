import ipaddress
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from subkube.controlplane import kubeconfig
from subkube.controlplane.pki import ADMIN, CONTROLLER_MANAGER, ensure_pki, first_service_ip


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
