"""Certificates made old on purpose, to test what renews them."""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from subkube.controlplane.pki import PKI, leaves


def backdate(pki: PKI, *, expired: bool) -> None:
    """Reissue every leaf of PKI (same key, same subject) a day or two in the past: past
    its renewal point, or with EXPIRED past its end too."""
    for pair in leaves(pki):
        cert, key = pair.load()
        ca = pki.front_proxy_ca if pair == pki.front_proxy_client else pki.ca
        ca_cert, ca_key = ca.load()
        shift = dt.timedelta(days=2 if expired else 1)
        end = cert.not_valid_before_utc if expired else cert.not_valid_after_utc
        stale = (
            x509.CertificateBuilder()
            .subject_name(cert.subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(cert.not_valid_before_utc - shift)
            .not_valid_after(end - dt.timedelta(days=1))
            .sign(ca_key, hashes.SHA256())
        )
        pair.cert.write_bytes(stale.public_bytes(serialization.Encoding.PEM))
