"""The PKI of one control plane, made with `cryptography` and kept in its data dir.

Files are created once and reused, so a restarted control plane keeps its identity and
existing kubeconfigs and service-account tokens stay valid.
"""

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_DAYS = 3650
LEAF_DAYS = 365


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path

    def load(self) -> tuple[x509.Certificate, PrivateKey]:
        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        return cert, key


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user, O are the groups."""

    file_stem: str
    user: str
    groups: tuple[str, ...] = ()


ADMIN = ClientIdentity("admin", "kubernetes-admin", ("system:masters",))
CONTROLLER_MANAGER = ClientIdentity("controller-manager", "system:kube-controller-manager")
SCHEDULER = ClientIdentity("scheduler", "system:kube-scheduler")
KUBELET_CLIENT = ClientIdentity(
    "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",)
)


@dataclass(frozen=True)
class PKI:
    root: Path

    @property
    def ca(self) -> CertPair:
        return CertPair(self.root / "ca.crt", self.root / "ca.key")

    @property
    def front_proxy_ca(self) -> CertPair:
        return CertPair(self.root / "front-proxy-ca.crt", self.root / "front-proxy-ca.key")

    @property
    def front_proxy_client(self) -> CertPair:
        return CertPair(self.root / "front-proxy-client.crt", self.root / "front-proxy-client.key")

    @property
    def apiserver(self) -> CertPair:
        return CertPair(self.root / "apiserver.crt", self.root / "apiserver.key")

    @property
    def runner(self) -> CertPair:
        """The runner's own HTTPS endpoints (kubelet API, admission webhook), which only the
        virtual API server calls: it trusts them through this CA."""
        return CertPair(self.root / "runner.crt", self.root / "runner.key")

    @property
    def sa_private(self) -> Path:
        return self.root / "sa.key"

    @property
    def sa_public(self) -> Path:
        return self.root / "sa.pub"

    def client(self, who: ClientIdentity) -> CertPair:
        return CertPair(self.root / f"{who.file_stem}.crt", self.root / f"{who.file_stem}.key")


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    # Backdate a little so freshly started components with a slightly skewed view still accept.
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=days)


def make_ca(pair: CertPair, cn: str) -> None:
    if pair.cert.exists() and pair.key.exists():
        return
    key = _new_key()
    not_before, not_after = _validity(CA_DAYS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(pair.key, key)
    _write_cert(pair.cert, cert)


def _issue(
    ca: CertPair,
    pair: CertPair,
    subject: x509.Name,
    *,
    server: bool,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    ca_cert, ca_key = ca.load()
    key = _new_key()
    not_before, not_after = _validity(LEAF_DAYS)
    usage = [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_key(pair.key, key)
    _write_cert(pair.cert, builder.sign(ca_key, hashes.SHA256()))


def serving_sans(dns_names: list[str], ips: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(dns_names)]
    out += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(ips)]
    return out


def _current_sans(pair: CertPair) -> set[str] | None:
    if not (pair.cert.exists() and pair.key.exists()):
        return None
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v.value) for v in ext}


def _ensure_serving(pki: PKI, pair: CertPair, cn: str, sans: list[x509.GeneralName]) -> None:
    """Issue PAIR anew when it is missing or its SANs changed."""
    if _current_sans(pair) != {str(s.value) for s in sans}:
        _issue(pki.ca, pair, _name(cn), server=True, sans=sans)


def first_service_ip(service_cidr: str) -> str:
    """The `kubernetes` Service's ClusterIP: the first address of the service range."""
    return str(next(ipaddress.ip_network(service_cidr, strict=False).hosts()))


def ensure_pki(
    root: Path,
    *,
    service_cidr: str,
    cluster_domain: str = "cluster.local",
    extra_sans: list[str] | None = None,
    clients: list[ClientIdentity] | None = None,
    runner_ips: list[str] | None = None,
) -> PKI:
    """Create whatever is missing; reissue the serving cert only if its SANs changed."""
    pki = PKI(root)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    make_ca(pki.ca, "subkube-ca")
    make_ca(pki.front_proxy_ca, "subkube-front-proxy-ca")

    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
    ]
    ips = ["127.0.0.1", first_service_ip(service_cidr)]
    for extra in extra_sans or []:
        try:
            ipaddress.ip_address(extra)
            ips.append(extra)
        except ValueError:
            dns.append(extra)
    _ensure_serving(pki, pki.apiserver, "kube-apiserver", serving_sans(dns, ips))
    _ensure_serving(
        pki,
        pki.runner,
        "subkube-runner",
        serving_sans(["localhost"], ["127.0.0.1", *(runner_ips or [])]),
    )

    if not pki.front_proxy_client.cert.exists():
        _issue(
            pki.front_proxy_ca, pki.front_proxy_client, _name("front-proxy-client"), server=False
        )
    for who in [ADMIN, CONTROLLER_MANAGER, SCHEDULER, KUBELET_CLIENT, *(clients or [])]:
        if not pki.client(who).cert.exists():
            _issue(pki.ca, pki.client(who), _name(who.user, who.groups), server=False)

    if not pki.sa_private.exists():
        # RSA for the service-account signer: every JWT consumer understands RS256.
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(pki.sa_private, sa)
        pki.sa_public.write_bytes(
            sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return pki
