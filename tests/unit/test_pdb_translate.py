"""PodDisruptionBudget translate, with plain dicts."""

from subkube.syncer import names
from subkube.syncer.resources.poddisruptionbudgets import translate as pdbs

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER}


def vpdb(selector: object, **spec: object) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "demo", "uid": "pdb-uid", "generation": 3},
        "spec": {"selector": selector, **spec},
    }


def _matches(labels: dict[str, str], selector: dict) -> bool:
    """A label selector as the host's disruption controller applies it."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        present, value = e["key"] in labels, labels.get(e["key"])
        if not {
            "In": present and value in e.get("values", []),
            "NotIn": not present or value not in e.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[e["operator"]]:
            return False
    return True


def host_pod_labels(labels: dict[str, str], namespace: str = "demo", vc: str = "vc1") -> dict:
    """Labels the pod translate gives a host pod."""
    return names.host_labels(labels, vcluster=vc, namespace=namespace)


def test_selector_matches_this_namespaces_pods_of_this_vcluster_only() -> None:
    selector = {
        "matchLabels": {"app": "web", "subkube.io/tier": "x"},
        "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable"]}],
    }
    h = pdbs.to_host(vpdb(selector, minAvailable=2, unhealthyPodEvictionPolicy="AlwaysAllow"), **KW)
    assert h["apiVersion"] == "policy/v1"
    assert h["metadata"]["name"] == "web-x-demo-x-vc1"
    assert h["spec"]["minAvailable"] == 2
    assert h["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    host_sel = h["spec"]["selector"]
    labels = {"app": "web", "subkube.io/tier": "x", "track": "stable"}
    assert _matches(host_pod_labels(labels), host_sel)
    # Our own domain's keys are renamed on pods and on the selector alike.
    assert "subkube.io/tier" not in host_sel["matchLabels"]
    assert not _matches(host_pod_labels(labels, namespace="other"), host_sel)
    assert not _matches(host_pod_labels(labels, vc="vc2"), host_sel)
    assert not _matches(labels, host_sel)  # a host pod that is not a tenant's
    assert not _matches(host_pod_labels({**labels, "track": "canary"}), host_sel)


def test_empty_selector_is_every_pod_of_the_virtual_namespace() -> None:
    host_sel = pdbs.to_host(vpdb({}, maxUnavailable="25%"), **KW)["spec"]["selector"]
    assert host_sel == {
        "matchLabels": {names.LABEL_MANAGED_BY: "vc1", names.LABEL_NAMESPACE: "demo"}
    }
    assert _matches(host_pod_labels({"any": "thing"}), host_sel)
    assert not _matches(host_pod_labels({}, namespace="other"), host_sel)


def test_null_or_absent_selector_still_matches_nothing() -> None:
    assert pdbs.to_host(vpdb(None), **KW)["spec"]["selector"] is None
    v = vpdb(None, maxUnavailable=1)
    del v["spec"]["selector"]
    assert "selector" not in pdbs.to_host(v, **KW)["spec"]


def test_spec_update() -> None:
    actual = pdbs.to_host(vpdb({"matchLabels": {"app": "web"}}, minAvailable=1), **KW)
    assert pdbs.host_spec_update(actual, actual) is None
    desired = pdbs.to_host(vpdb({"matchLabels": {"app": "api"}}, maxUnavailable=1), **KW)
    assert pdbs.host_spec_update(desired, actual) == {
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "maxUnavailable": 1,
            "minAvailable": None,
        }
    }


def host_status(**extra: object) -> dict:
    return {
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "disruptionsAllowed": 1,
        "expectedPods": 3,
        "observedGeneration": 7,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True",
                "reason": "SufficientPods",
                "observedGeneration": 7,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        **extra,
    }


def test_status_flows_back_with_virtual_generation_and_pod_names() -> None:
    vpods = [
        {"metadata": {"name": "web-1", "namespace": "demo"}},
        {"metadata": {"name": "w" * 70, "namespace": "demo"}},
    ]
    pod_names = pdbs.host_pod_names(vpods, "vc1")
    hashed = names.host_name("w" * 70, "demo", "vc1")
    assert pod_names == {"web-1-x-demo-x-vc1": "web-1", hashed: "w" * 70}
    hobj = {
        "metadata": {"generation": 7},
        "status": host_status(
            disruptedPods={
                "web-1-x-demo-x-vc1": "2026-01-01T00:00:01Z",
                hashed: "2026-01-01T00:00:02Z",
                "unknown-x-demo-x-vc1": "2026-01-01T00:00:03Z",
            }
        ),
    }
    v = vpdb({})
    update = pdbs.status_to_virtual(v, hobj, pod_names=pod_names)
    assert update is not None
    status = update["status"]
    assert status["observedGeneration"] == 3
    assert status["conditions"][0]["observedGeneration"] == 3
    assert status["disruptionsAllowed"] == 1
    assert status["expectedPods"] == 3
    assert status["disruptedPods"] == {
        "web-1": "2026-01-01T00:00:01Z",
        "w" * 70: "2026-01-01T00:00:02Z",
    }
    assert pdbs.status_to_virtual({**v, **update}, hobj, pod_names=pod_names) is None


def test_status_of_a_host_behind_its_spec_keeps_the_virtual_generation() -> None:
    v = {**vpdb({}), "status": {"observedGeneration": 2, "disruptionsAllowed": 0}}
    hobj = {"metadata": {"generation": 8}, "status": host_status()}
    status = pdbs.status_to_virtual(v, hobj, pod_names={})["status"]
    assert status["observedGeneration"] == 2
    assert status["conditions"][0]["observedGeneration"] == 2
    fresh = {**vpdb({}), "status": {}}
    status = pdbs.status_to_virtual(fresh, hobj, pod_names={})["status"]
    assert "observedGeneration" not in status
    assert "observedGeneration" not in status["conditions"][0]


def test_no_host_status_yet_changes_nothing() -> None:
    assert pdbs.status_to_virtual(vpdb({}), {"metadata": {}}, pod_names={}) is None
