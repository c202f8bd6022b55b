"""Certificates that never expire, on a local vcluster whose leaves live two minutes: the
runner renews them on its own and the connected context (the real kubectl) outlives the first
ones; `subkube certs rotate` replaces the serving certificate, `--ca` the CAs, and the
connected context keeps working after both."""

import datetime as dt
import hashlib
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from subkube.hostcluster import podfiles
from subkube.syncer import names
from tests.conftest import kubectl, subkube, wait_for
from tests.e2e.lab import HostLab

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("runner_image")]

HOST = "certs"
NS = "team-a"
VC = "vc1"
LIFETIME = "2m"

POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default}}
spec:
  containers: [{{name: c, image: busybox}}]
"""


class Lab(HostLab):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        # The user's own kubeconfig, where `subkube connect` puts the vcluster's context.
        self.user_kc = root / "user.kubeconfig"

    def user(self, *args: str) -> Any:
        """The CLI with the user's kubeconfig (connect, certs rotate update it)."""
        return subkube(*args, env={**self.env, "KUBECONFIG": str(self.user_kc)})

    def tenant(self, *args: str, check: bool = True, **kw: Any) -> Any:
        """kubectl through the connected context."""
        return kubectl(self.user_kc, *args, check=check, **kw)

    @property
    def pki(self) -> Path:
        return self.state / "vclusters" / NS / VC / "data" / "controlplane" / "pki"

    def cert(self, stem: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.pki / f"{stem}.crt").read_bytes())

    def server(self) -> str:
        state = json.loads((self.state / "vclusters" / NS / VC / "state.json").read_text())
        return str(state["server"])


def served(server: str) -> x509.Certificate:
    """The certificate SERVER presents now (read, not trusted)."""
    url = urlsplit(server)
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((url.hostname, url.port), timeout=10) as raw,
        tls.wrap_socket(raw) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.tbs_certificate_bytes).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("certs"))
    with lab.running(HOST, nodes=1):
        res = lab.cli(
            "create",
            VC,
            "-n",
            NS,
            "--no-connect",
            "--set",
            f"controlPlane.advanced.certificates.leafLifetime={LIFETIME}",
        )
        assert res.returncode == 0, res.stdout + res.stderr
        res = lab.user("connect", VC, "-n", NS)
        assert res.returncode == 0, res.stdout + res.stderr
        yield lab


def host_pod(lab: Lab, name: str) -> Any:
    host_name = names.host_name(name, "default", VC)
    res = lab.host("-n", NS, "get", "pod", host_name, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def runs_on_the_host(lab: Lab, name: str) -> None:
    """A pod made inside now reaches the host and runs: the syncer, the controller-manager
    and the admission webhook all take the current certificates."""
    lab.tenant("apply", "-f", "-", stdin=POD.format(name=name))
    wait_for(
        f"{name} Running on the host",
        lambda: (host_pod(lab, name) or {}).get("status", {}).get("phase") == "Running",
    )
    wait_for(
        f"{name} Running inside",
        lambda: (
            lab.tenant("get", "pod", name, "-o", "jsonpath={.status.phase}").stdout == "Running"
        ),
    )


def test_a_runner_renews_on_its_own_and_the_context_outlives_the_first_certificates(
    lab: Lab,
) -> None:
    first = {stem: lab.cert(stem) for stem in ("admin", "apiserver", "apiserver-kubelet-client")}
    # A pod gives a node inside, through which the runner has the API server take its
    # renewed kubelet-client certificate before a tenant's call does (KubeletEndpoint.prime).
    runs_on_the_host(lab, "before-expiry")
    expiry = max(c.not_valid_after_utc for c in first.values())
    wait_for(
        "the first certificates to expire",
        lambda: dt.datetime.now(dt.UTC) > expiry + dt.timedelta(seconds=5),
        timeout=300,
    )
    # The connected context names the admin certificate's file, which the runner renewed.
    assert lab.tenant("get", "namespaces").returncode == 0
    for stem in first:
        assert lab.cert(stem).not_valid_after_utc > expiry, stem
    assert served(lab.server()).not_valid_after_utc > expiry
    runs_on_the_host(lab, "after-expiry")
    # kubectl logs: the API server calls the runner's kubelet endpoint with its renewed
    # client certificate, and trusts the endpoint's renewed serving certificate.
    home = lab.state / "hosts" / HOST
    log = podfiles.log_path(home, NS, names.host_name("after-expiry", "default", VC), "c")
    with log.open("a") as fh:
        fh.write(podfiles.cri_line("still here", dt.datetime.now(dt.UTC)))
    logs = lab.tenant("logs", "after-expiry", check=False)
    assert logs.stdout.endswith("still here\n"), logs.stderr


def test_rotating_replaces_the_serving_certificate_and_the_context_still_works(
    lab: Lab,
) -> None:
    before = served(lab.server())
    res = lab.user("certs", "rotate", VC, "-n", NS)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rotated" in res.stdout
    wait_for(
        "the API server to serve the rotated certificate",
        lambda: fingerprint(served(lab.server())) == fingerprint(lab.cert("apiserver")),
    )
    assert fingerprint(served(lab.server())) != fingerprint(before)
    assert lab.tenant("get", "namespaces").returncode == 0
    missing = lab.user("certs", "rotate", "nope", "-n", NS)
    assert missing.returncode != 0
    assert "no vcluster nope" in missing.stderr


def test_rotating_the_ca_keeps_the_connected_context_and_refuses_old_kubeconfigs(
    lab: Lab, tmp_path: Path
) -> None:
    old_ca = lab.cert("ca")
    printed = lab.user("connect", VC, "-n", NS, "--print")
    assert printed.returncode == 0, printed.stderr
    copied = tmp_path / "copied.kubeconfig"
    copied.write_text(printed.stdout)
    assert kubectl(copied, "get", "namespaces").returncode == 0

    res = lab.user("certs", "rotate", VC, "-n", NS, "--ca")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "context updated" in res.stdout
    new_ca = lab.cert("ca")
    assert new_ca.public_key() != old_ca.public_key()
    assert lab.tenant("get", "namespaces").returncode == 0
    refused = kubectl(copied, "get", "namespaces", check=False)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr
    runs_on_the_host(lab, "after-ca")
    # The restarted controller-manager publishes the new CA to the tenant's pods.
    new_pem = (lab.pki / "ca.crt").read_text()
    wait_for(
        "kube-root-ca.crt to carry the new CA",
        lambda: (
            lab.tenant(
                "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"
            ).stdout.strip()
            == new_pem.strip()
        ),
    )


def test_a_vcluster_in_a_pod_rotates_through_kubectl_exec(lab: Lab, tmp_path: Path) -> None:
    """--driver helm: `certs rotate` runs `subkube inpod rotate-certs` in the chart's pod,
    then takes the kubeconfig the runner published; the connected context follows."""
    user_kc = tmp_path / "user.kubeconfig"
    env = {**lab.env, "KUBECONFIG": str(user_kc)}
    lab.host("create", "namespace", "helm-ns")
    res = subkube(
        "create",
        "vh",
        "-n",
        "helm-ns",
        "--driver",
        "helm",
        "--kubeconfig",
        str(lab.host_kc),
        env=env,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    try:
        server = json.loads(
            (lab.state / "vclusters" / "helm-ns" / "vh" / "state.json").read_text()
        )["server"]
        before = fingerprint(served(server))
        res = subkube("certs", "rotate", "vh", "-n", "helm-ns", env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        wait_for(
            "the pod's API server to serve a new certificate",
            lambda: fingerprint(served(server)) != before,
        )
        assert kubectl(user_kc, "get", "namespaces").returncode == 0

        copied = tmp_path / "copied.kubeconfig"
        copied.write_text(user_kc.read_text())
        res = subkube("certs", "rotate", "vh", "-n", "helm-ns", "--ca", env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "context updated" in res.stdout
        assert kubectl(user_kc, "get", "namespaces").returncode == 0
        assert kubectl(copied, "get", "namespaces", check=False).returncode != 0
    finally:
        subkube("delete", "vh", "-n", "helm-ns", env=env)
