"""The certificates of a vcluster and when they expire: every file of its PKI when it runs
here, and for any driver what a client meets (the CA and client certificate of its
kubeconfig, and the certificate its API server serves right now)."""

import asyncio
import base64
import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from cryptography import x509

from subkube.errors import SubkubeError

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Certificate:
    name: str
    subject: str
    not_after: dt.datetime
    source: str

    def row(self, now: dt.datetime) -> dict[str, str]:
        left = self.not_after - now
        return {
            "name": self.name,
            "subject": self.subject,
            "notAfter": self.not_after.isoformat(),
            "remaining": f"{left.days}d" if left.days >= 1 else f"{int(left.total_seconds())}s",
            "source": self.source,
        }


def _describe(name: str, cert: x509.Certificate, source: str) -> Certificate:
    return Certificate(name, cert.subject.rfc4514_string(), cert.not_valid_after_utc, source)


def from_files(pki_dir: Path) -> list[Certificate]:
    """Every certificate file of a vcluster's PKI, by file name."""
    return [
        _describe(path.stem, x509.load_pem_x509_certificate(path.read_bytes()), str(path))
        for path in sorted(pki_dir.glob("*.crt"))
    ]


def _kubeconfig_pem(entry: dict[str, object], field: str, base: Path) -> bytes | None:
    data = entry.get(f"{field}-data")
    if isinstance(data, str):
        return base64.b64decode(data)
    path = entry.get(field)
    return (base / str(path)).read_bytes() if isinstance(path, str) else None


def from_kubeconfig(kubeconfig: Path) -> tuple[str, list[Certificate]]:
    """(API server URL, the CA and client certificate the kubeconfig holds)."""
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
        raise SubkubeError(f"cannot read the vcluster's kubeconfig {kubeconfig}: {exc}") from exc
    out = []
    for name, entry, field in (
        ("kubeconfig CA", cluster, "certificate-authority"),
        ("kubeconfig client", user, "client-certificate"),
    ):
        pem = _kubeconfig_pem(entry, field, kubeconfig.parent)
        if pem:
            out.append(_describe(name, x509.load_pem_x509_certificate(pem), str(kubeconfig)))
    return str(cluster["server"]), out


async def served(server: str) -> Certificate:
    """The certificate SERVER's TLS listener presents now (read, not trusted)."""
    url = urlsplit(server)
    tls = ssl.create_default_context()
    # Only the expiry is read: a certificate a client would refuse must still be shown.
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, url.port or 443, ssl=tls), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        raise SubkubeError(
            f"cannot reach the vcluster's API at {server} ({exc}); is it running? "
            "(`subkube list`, `subkube resume`)"
        ) from exc
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return _describe("serving (live)", x509.load_der_x509_certificate(der), server)
