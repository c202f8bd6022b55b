"""The PKI of one control plane, made with `cryptography` and kept in its data dir.

Files are created once and reused, so a restarted control plane keeps its identity and
existing kubeconfigs and service-account tokens stay valid. Leaf certificates live for a
configured lifetime and are reissued before 80 % of it is spent, keeping their keys
(`renew_leaves`); `rotate_ca` replaces both CAs and every leaf and key.
"""

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=365)
# The share of a leaf's validity after which it is renewed (what kubelets do with theirs).
RENEW_AT = 0.8
MAX_BACKDATE = dt.timedelta(hours=1)
CA_NAME = "subkube-ca"
FRONT_PROXY_CA_NAME = "subkube-front-proxy-ca"


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
    def etcd_peer(self) -> CertPair:
        """An etcd member's certificate for its peers, as server and as client."""
        return CertPair(self.root / "etcd-peer.crt", self.root / "etcd-peer.key")

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


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Whoever reads PATH while it changes (the API server's file watch, kubectl reading a
    context's files) reads the old file or the new one, never a part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    # Created with MODE, so a key is never readable by others, not even for an instant.
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as fh:
        fh.write(data)
    tmp.replace(path)


def _write_key(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(path, pem, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write_atomically(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(lifetime: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    # Backdated so a peer whose clock runs a little behind accepts a fresh certificate; by a
    # tenth of the lifetime at most, so a short one still has most of its time ahead.
    now = dt.datetime.now(dt.UTC)
    return now - min(MAX_BACKDATE, lifetime / 10), now + lifetime


def _ca_certificate(cn: str, key: PrivateKey) -> x509.Certificate:
    not_before, not_after = _validity(CA_LIFETIME)
    return (
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


def make_ca(pair: CertPair, cn: str) -> None:
    if pair.cert.exists() and pair.key.exists():
        return
    key = _new_key()
    _write_key(pair.key, key)
    _write_cert(pair.cert, _ca_certificate(cn, key))


def _sign(
    subject: x509.Name,
    key: PrivateKey,
    issuer: tuple[x509.Certificate, PrivateKey],
    lifetime: dt.timedelta,
    extensions: Iterable[x509.Extension[x509.ExtensionType]],
) -> x509.Certificate:
    """A leaf for KEY, valid for LIFETIME from now, with EXTENSIONS and the issuer's key id."""
    issuer_cert, issuer_key = issuer
    not_before, not_after = _validity(lifetime)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for ext in extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf_extensions(
    server: bool, sans: list[x509.GeneralName] | None, *, client: bool = False
) -> list[x509.Extension[x509.ExtensionType]]:
    usage = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    if client or not server:
        usage.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    values: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (
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
            True,
        ),
        (x509.ExtendedKeyUsage(usage), False),
    ]
    if sans:
        values.append((x509.SubjectAlternativeName(sans), False))
    return [x509.Extension(value.oid, critical, value) for value, critical in values]


def _issue(
    ca: CertPair,
    pair: CertPair,
    subject: x509.Name,
    *,
    server: bool,
    lifetime: dt.timedelta,
    sans: list[x509.GeneralName] | None = None,
    client: bool = False,
) -> None:
    key = _new_key()
    cert = _sign(subject, key, ca.load(), lifetime, _leaf_extensions(server, sans, client=client))
    _write_key(pair.key, key)
    _write_cert(pair.cert, cert)


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


def _ensure_serving(
    pki: PKI,
    pair: CertPair,
    cn: str,
    sans: list[x509.GeneralName],
    lifetime: dt.timedelta,
    client: bool = False,
) -> None:
    """Issue PAIR anew when it is missing or its SANs changed."""
    if _current_sans(pair) != {str(s.value) for s in sans}:
        _issue(pki.ca, pair, _name(cn), server=True, lifetime=lifetime, sans=sans, client=client)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


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
    peer_names: list[str] | None = None,
    leaf_lifetime: dt.timedelta = LEAF_LIFETIME,
) -> PKI:
    """Create whatever is missing; reissue a serving cert whose SANs changed, and every
    leaf when one is past 80 % of its lifetime (a control plane stopped for months comes
    back with certificates that work)."""
    pki = _ensure_shared(root)
    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
    ]
    ips = ["127.0.0.1", first_service_ip(service_cidr)]
    for extra in extra_sans or []:
        (ips if _is_ip(extra) else dns).append(extra)
    _ensure_serving(pki, pki.apiserver, "kube-apiserver", serving_sans(dns, ips), leaf_lifetime)
    _ensure_serving(
        pki,
        pki.runner,
        "subkube-runner",
        serving_sans(["localhost"], ["127.0.0.1", *(runner_ips or [])]),
        leaf_lifetime,
    )
    if peer_names:
        # Loopback too: etcd checks a peer's certificate against the address it connects
        # from, and replicas on one machine (the local host) connect from 127.0.0.1.
        names = [n for n in peer_names if not _is_ip(n)]
        ips = ["127.0.0.1", *(n for n in peer_names if _is_ip(n))]
        _ensure_serving(
            pki, pki.etcd_peer, "etcd-peer", serving_sans(names, ips), leaf_lifetime, client=True
        )

    if not pki.front_proxy_client.cert.exists():
        _issue(
            pki.front_proxy_ca,
            pki.front_proxy_client,
            _name("front-proxy-client"),
            server=False,
            lifetime=leaf_lifetime,
        )
    for who in [ADMIN, CONTROLLER_MANAGER, SCHEDULER, KUBELET_CLIENT, *(clients or [])]:
        if not pki.client(who).cert.exists():
            _issue(
                pki.ca,
                pki.client(who),
                _name(who.user, who.groups),
                server=False,
                lifetime=leaf_lifetime,
            )
    if due(pki, dt.datetime.now(dt.UTC)):
        renew_leaves(pki, leaf_lifetime)
    return pki


def _private_root(root: Path) -> PKI:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    return PKI(root)


def _ensure_shared(root: Path) -> PKI:
    """The PKI at ROOT with its shared files (shared_files) made where missing."""
    pki = _private_root(root)
    make_ca(pki.ca, CA_NAME)
    make_ca(pki.front_proxy_ca, FRONT_PROXY_CA_NAME)
    if pki.sa_private.exists():
        return pki
    # RSA for the service-account signer: every JWT consumer understands RS256.
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki.sa_private, sa)
    pki.sa_public.write_bytes(
        sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def shared_files(pki: PKI) -> list[Path]:
    """What every replica of one control plane must hold alike: the CAs, so each trusts the
    others' certificates, and the service-account signer, so each accepts the others' tokens.
    Leaves stay each replica's own."""
    return [
        pki.ca.cert,
        pki.ca.key,
        pki.front_proxy_ca.cert,
        pki.front_proxy_ca.key,
        pki.sa_private,
        pki.sa_public,
    ]


def make_shared(root: Path) -> dict[str, bytes]:
    """The shared files of the PKI at ROOT, made where missing, by file name."""
    pki = _ensure_shared(root)
    return {path.name: path.read_bytes() for path in shared_files(pki)}


def adopt_shared(root: Path, files: dict[str, bytes]) -> None:
    """Take another replica's shared FILES; leaves signed by different CAs are removed, for
    ensure_pki to issue anew."""
    pki = _private_root(root)
    if pki.ca.cert.exists() and pki.ca.cert.read_bytes() == files.get(pki.ca.cert.name):
        return
    for pair in leaves(pki):
        pair.cert.unlink(missing_ok=True)
        pair.key.unlink(missing_ok=True)
    for path in shared_files(pki):
        _write_atomically(path, files[path.name], 0o600 if path.suffix == ".key" else 0o644)


def leaves(pki: PKI) -> list[CertPair]:
    """Every leaf certificate of PKI (all but the two CAs), with its key."""
    cas = {pki.ca.cert, pki.front_proxy_ca.cert}
    return [
        CertPair(path, path.with_suffix(".key"))
        for path in sorted(pki.root.glob("*.crt"))
        if path not in cas
    ]


def _issuer(pki: PKI, cert: x509.Certificate) -> CertPair:
    return pki.front_proxy_ca if cert.issuer == _name(FRONT_PROXY_CA_NAME) else pki.ca


def renew_after(cert: x509.Certificate) -> dt.datetime:
    """When RENEW_AT of CERT's validity is spent."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * RENEW_AT


def next_renewal(pki: PKI) -> dt.datetime:
    """When the first leaf of PKI is due."""
    return min(renew_after(pair.load()[0]) for pair in leaves(pki))


def due(pki: PKI, now: dt.datetime) -> list[CertPair]:
    """The leaves past RENEW_AT of their lifetime at NOW (expired ones too)."""
    return [pair for pair in leaves(pki) if now >= renew_after(pair.load()[0])]


def _copied_extensions(cert: x509.Certificate) -> list[x509.Extension[x509.ExtensionType]]:
    # The authority key id is the issuer's, added anew when signing.
    return [e for e in cert.extensions if not isinstance(e.value, x509.AuthorityKeyIdentifier)]


def renew_leaves(pki: PKI, lifetime: dt.timedelta) -> None:
    """Reissue every leaf, valid for LIFETIME from now, with its subject, names and key.

    Keeping the key means only certificate files change: whoever reads a pair from disk
    (the API server, kubectl through a context that names the files) never meets a
    certificate that does not match its key. A new key would buy nothing: without
    revocation the old certificate stays valid until it expires; only `rotate_ca` ends it.
    """
    issuers = {pair.cert: pair.load() for pair in (pki.ca, pki.front_proxy_ca)}
    for pair in leaves(pki):
        cert, key = pair.load()
        issuer = issuers[_issuer(pki, cert).cert]
        _write_cert(pair.cert, _sign(cert.subject, key, issuer, lifetime, _copied_extensions(cert)))


def rotate_ca(pki: PKI, lifetime: dt.timedelta) -> None:
    """New CAs (the cluster's and the front proxy's) and every leaf reissued under them with
    a new key: whatever was signed by the old CAs is trusted no more."""
    fresh: dict[Path, tuple[x509.Certificate, PrivateKey]] = {}
    for ca, cn in ((pki.ca, CA_NAME), (pki.front_proxy_ca, FRONT_PROXY_CA_NAME)):
        key = _new_key()
        fresh[ca.cert] = (_ca_certificate(cn, key), key)
    issued: list[tuple[CertPair, x509.Certificate, PrivateKey]] = []
    for pair in leaves(pki):
        cert, _ = pair.load()
        key = _new_key()
        issuer = fresh[_issuer(pki, cert).cert]
        issued.append(
            (pair, _sign(cert.subject, key, issuer, lifetime, _copied_extensions(cert)), key)
        )
    # Everything is made before anything is written: a failure leaves the old PKI whole.
    for ca in (pki.ca, pki.front_proxy_ca):
        ca_cert, ca_key = fresh[ca.cert]
        _write_key(ca.key, ca_key)
        _write_cert(ca.cert, ca_cert)
    for pair, cert, key in issued:
        _write_key(pair.key, key)
        _write_cert(pair.cert, cert)
