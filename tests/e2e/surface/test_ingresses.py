"""sync.toHost.ingresses: an Ingress made with kubectl inside reaches the host with its
backends and TLS Secret renamed to their host copies, and the address the host's ingress
controller gives it shows inside."""

import base64
import json

import pytest

from subkube.syncer import names
from tests.conftest import wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e

SHOP = "shop"


def service(name: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": SHOP},
        "spec": {"selector": {"app": name}, "ports": [{"port": port}]},
    }


def test_an_ingress_reaches_the_host_and_its_address_comes_back(lab: Lab) -> None:
    lab.v("create", "namespace", SHOP)
    lab.apply(service("web", 80))
    lab.apply(service("api", 8080))
    # The API server checks a TLS Secret's keys, not that they hold a real certificate.
    pem = base64.b64encode(b"not checked").decode()
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shop-tls", "namespace": SHOP},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": pem, "tls.key": pem},
        }
    )

    def backend(name: str, port: int) -> dict:
        return {"service": {"name": name, "port": {"number": port}}}

    lab.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": SHOP},
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {"path": "/", "pathType": "Prefix", "backend": backend("web", 80)},
                                {
                                    "path": "/api",
                                    "pathType": "Prefix",
                                    "backend": backend("api", 8080),
                                },
                            ]
                        },
                    }
                ],
            },
        }
    )

    hing = wait_for("the host Ingress", lambda: lab.host_obj("ingress", "shop", SHOP))
    spec = hing["spec"]
    assert spec["ingressClassName"] == "nginx", "the class is the host's own"
    paths = spec["rules"][0]["http"]["paths"]
    backends = [p["backend"]["service"]["name"] for p in paths]
    assert backends == [names.host_name("web", SHOP, VC), names.host_name("api", SHOP, VC)]
    for name in ("web", "api"):
        assert lab.host_obj("service", name, SHOP) is not None, f"the host Service {name}"
    assert spec["tls"][0]["secretName"] == names.host_name("shop-tls", SHOP, VC)
    tls = wait_for("the TLS Secret on the host", lambda: lab.host_obj("secret", "shop-tls", SHOP))
    assert tls["type"] == "kubernetes.io/tls"

    # What an ingress controller on the host does once it serves the Ingress.
    status = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    lab.host(
        "-n",
        NS,
        "patch",
        "ingress",
        hing["metadata"]["name"],
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    listed = wait_for(
        "the address inside",
        lambda: (
            out
            if "203.0.113.10" in (out := lab.v("-n", SHOP, "get", "ingress", "shop").stdout)
            else None
        ),
    )
    assert "shop.example.com" in listed
    inside = lab.v_json("-n", SHOP, "get", "ingress", "shop")
    assert inside["status"] == status
    assert inside["spec"]["tls"][0]["secretName"] == "shop-tls", "the tenant's spec stays"
