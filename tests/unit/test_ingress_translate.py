"""Ingress translate, with plain dicts."""

from subkube.syncer import names
from subkube.syncer.resources.ingresses import translate as ingresses

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER}


def vingress(**annotations: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "uid": "ing-uid",
            "labels": {"app": "web"},
            "annotations": annotations,
        },
        "spec": {
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}, {"hosts": ["x"]}],
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            },
                            {
                                "path": "/static",
                                "pathType": "Prefix",
                                "backend": {
                                    "resource": {
                                        "apiGroup": "k8s.example.com",
                                        "kind": "StorageBucket",
                                        "name": "assets",
                                    }
                                },
                            },
                        ]
                    },
                },
                {"host": "no-http.example.com"},
            ],
        },
    }


def test_every_name_an_ingress_gives_is_translated() -> None:
    h = ingresses.to_host(vingress(), **KW)
    spec = h["spec"]
    assert h["apiVersion"] == "networking.k8s.io/v1"
    assert h["metadata"]["name"] == "web-x-demo-x-vc1"
    assert h["metadata"]["namespace"] == "team-a"
    assert h["metadata"]["ownerReferences"] == [OWNER]
    assert h["metadata"]["labels"][names.LABEL_NAMESPACE] == "demo"
    assert spec["ingressClassName"] == "nginx"
    assert spec["defaultBackend"]["service"] == {
        "name": "fallback-x-demo-x-vc1",
        "port": {"number": 80},
    }
    paths = spec["rules"][0]["http"]["paths"]
    assert paths[0]["backend"]["service"]["name"] == "web-x-demo-x-vc1"
    assert paths[1]["backend"]["resource"] == {
        "apiGroup": "k8s.example.com",
        "kind": "StorageBucket",
        "name": "assets-x-demo-x-vc1",
    }
    assert spec["rules"][1] == {"host": "no-http.example.com"}
    assert spec["tls"] == [
        {"hosts": ["web.example.com"], "secretName": "web-tls-x-demo-x-vc1"},
        {"hosts": ["x"]},
    ]


def test_the_virtual_object_is_not_changed() -> None:
    v = vingress()
    ingresses.to_host(v, **KW)
    assert v == vingress()


def test_long_names_use_the_hashed_host_name() -> None:
    v = vingress()
    long = "b" * 60
    v["spec"]["defaultBackend"]["service"]["name"] = long
    h = ingresses.to_host(v, **KW)
    assert h["spec"]["defaultBackend"]["service"]["name"] == names.host_name(long, "demo", "vc1")


def test_nginx_secret_annotations_name_the_host_copies() -> None:
    h = ingresses.to_host(
        vingress(
            **{
                "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
                "nginx.ingress.kubernetes.io/auth-tls-secret": "other/ca",
                "nginx.ingress.kubernetes.io/proxy-ssl-secret": "a/b/c",
                "nginx.ingress.kubernetes.io/rewrite-target": "/",
            }
        ),
        **KW,
    )
    annotations = h["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-secret"] == (
        "team-a/basic-auth-x-demo-x-vc1"
    )
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-secret"] == "team-a/ca-x-other-x-vc1"
    # Not a name we can translate: never passed on to read some host Secret.
    assert "nginx.ingress.kubernetes.io/proxy-ssl-secret" not in annotations
    assert annotations["nginx.ingress.kubernetes.io/rewrite-target"] == "/"


def test_referenced_secrets_and_services() -> None:
    v = vingress(
        **{
            "nginx.ingress.kubernetes.io/auth-secret": "demo/basic-auth",
            "nginx.ingress.kubernetes.io/auth-tls-secret": "other/ca",
        }
    )
    assert ingresses.referenced_secrets(v) == {"web-tls", "basic-auth"}
    assert ingresses.referenced_services(v) == {"fallback", "web"}
    assert ingresses.referenced_secrets({"metadata": {"namespace": "demo"}}) == set()
    assert ingresses.referenced_services({"metadata": {"namespace": "demo"}, "spec": {}}) == set()


def test_spec_update_replaces_and_removes() -> None:
    actual = ingresses.to_host(vingress(), **KW)
    assert ingresses.host_spec_update(actual, actual) is None
    v = vingress()
    del v["spec"]["defaultBackend"]
    v["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "web2"
    patch = ingresses.host_spec_update(ingresses.to_host(v, **KW), actual)
    assert patch is not None
    assert patch["spec"]["defaultBackend"] is None
    assert patch["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "web2-x-demo-x-vc1"
    )


def test_load_balancer_status_flows_back() -> None:
    lb = {"ingress": [{"ip": "203.0.113.7", "ports": [{"port": 443, "protocol": "TCP"}]}]}
    v = vingress()
    h = {"status": {"loadBalancer": lb}}
    assert ingresses.status_to_virtual(v, h) == {"status": {"loadBalancer": lb}}
    assert ingresses.status_to_virtual({**v, "status": {"loadBalancer": lb}}, h) is None
    assert ingresses.status_to_virtual(v, {}) is None
    gone = ingresses.status_to_virtual({**v, "status": {"loadBalancer": lb}}, {"status": {}})
    assert gone == {"status": {"loadBalancer": {}}}
