"""NetworkPolicy virtual -> host, with plain dicts."""

from subkube.syncer import names
from subkube.syncer.resources.networkpolicies import translate

MANAGED, NS = names.LABEL_MANAGED_BY, names.LABEL_NAMESPACE


def policy(spec: dict) -> dict:
    return {"metadata": {"name": "db", "namespace": "web", "uid": "u"}, "spec": spec}


def namespaces(**labels: dict) -> list[dict]:
    return [{"metadata": {"name": n, "labels": v}} for n, v in labels.items()]


def to_host(spec: dict, nss: list[dict] | None = None) -> dict:
    return translate.to_host(
        policy(spec), vcluster="vc", host_namespace="team", owner=None, namespaces=nss or []
    )


def test_pod_selectors_are_scoped_to_the_tenants_namespace() -> None:
    host = to_host(
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}],
            "policyTypes": ["Ingress"],
        }
    )
    assert host["metadata"]["name"] == "db-x-web-x-vc"
    assert host["metadata"]["namespace"] == "team"
    assert host["spec"]["podSelector"] == {"matchLabels": {MANAGED: "vc", "app": "db", NS: "web"}}
    assert host["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {MANAGED: "vc", "app": "api", NS: "web"}}}
    ]
    assert host["spec"]["policyTypes"] == ["Ingress"]


def test_an_empty_pod_selector_means_the_whole_virtual_namespace() -> None:
    assert to_host({"podSelector": {}})["spec"]["podSelector"] == {
        "matchLabels": {MANAGED: "vc", NS: "web"}
    }


def test_namespace_selectors_resolve_to_the_matching_virtual_namespaces() -> None:
    nss = namespaces(web={"team": "a"}, api={"team": "a"}, other={"team": "b"})
    peers = [
        {"namespaceSelector": {"matchLabels": {"team": "a"}}},
        {
            "namespaceSelector": {"matchLabels": {"team": "b"}},
            "podSelector": {"matchLabels": {"x": "y"}},
        },
        {"namespaceSelector": {}},
        {"namespaceSelector": {"matchLabels": {"team": "none"}}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
    ]
    out = to_host({"podSelector": {}, "egress": [{"to": peers, "ports": [{"port": 53}]}]}, nss)
    to = out["spec"]["egress"][0]["to"]
    assert to[0] == {
        "podSelector": {
            "matchLabels": {MANAGED: "vc"},
            "matchExpressions": [{"key": NS, "operator": "In", "values": ["api", "web"]}],
        }
    }
    assert to[1] == {"podSelector": {"matchLabels": {MANAGED: "vc", "x": "y", NS: "other"}}}
    assert to[2] == {"podSelector": {"matchLabels": {MANAGED: "vc"}}}
    assert to[3] == {
        "podSelector": {"matchLabels": {MANAGED: "vc"}, "matchExpressions": [translate.NO_MATCH]}
    }
    assert to[4] == peers[4]
    assert out["spec"]["egress"][0]["ports"] == [{"port": 53}]


def test_namespace_selector_expressions() -> None:
    nss = namespaces(a={"env": "prod"}, b={"env": "dev"}, c={})
    sel = {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    assert translate.matching_namespaces(sel, nss) == ["a", "c"]
    sel = {"matchExpressions": [{"key": "env", "operator": "Exists"}]}
    assert translate.matching_namespaces(sel, nss) == ["a", "b"]
    sel = {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}
    assert translate.matching_namespaces(sel, nss) == ["c"]
