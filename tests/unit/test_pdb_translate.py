"""PodDisruptionBudget translate, with plain dicts."""

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subkube.syncer import names
from subkube.syncer.resources.poddisruptionbudgets import translate as pdbs

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW: dict[str, Any] = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER, "pods": []}
NOW = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)


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
    desired = pdbs.to_host(vpdb({"matchLabels": {"app": "api"}}, minAvailable=2), **KW)
    assert pdbs.host_spec_update(desired, actual) == {
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "minAvailable": 2}
    }
    # A host copy carrying maxUnavailable (as one made before the syncer computed the
    # bound) loses it.
    old = {"spec": {**actual["spec"], "maxUnavailable": 1}}
    old["spec"].pop("minAvailable")
    assert pdbs.host_spec_update(actual, old) == {
        "spec": {"maxUnavailable": None, "minAvailable": 1}
    }


def vpod(name: str, phase: str = "Running", deleting: bool = False, **labels: str) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": "demo", "labels": labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase}}


WEB_PODS = [
    vpod("web-1", app="web"),
    vpod("web-2", app="web"),
    vpod("web-3", phase="Pending", app="web"),
    vpod("done", phase="Succeeded", app="web"),
    vpod("crashed", phase="Failed", app="web"),
    vpod("going", deleting=True, app="web"),
    vpod("api", app="api"),
    {"metadata": {"name": "new", "namespace": "demo", "labels": {"app": "web"}}},
]


def host_spec(pods: list[dict] = WEB_PODS, **spec: object) -> dict:
    return pdbs.to_host(vpdb({"matchLabels": {"app": "web"}}, **spec), **{**KW, "pods": pods})[
        "spec"
    ]


def test_the_expected_pods_are_those_matched_that_neither_ended_nor_go() -> None:
    assert pdbs.expected_pods({"matchLabels": {"app": "web"}}, WEB_PODS) == 4
    assert pdbs.expected_pods({}, WEB_PODS) == 5
    assert pdbs.expected_pods(None, WEB_PODS) == 0


def test_max_unavailable_becomes_an_integer_min_available() -> None:
    spec = host_spec(maxUnavailable=1, unhealthyPodEvictionPolicy="AlwaysAllow")
    assert spec["minAvailable"] == 3
    assert "maxUnavailable" not in spec
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert host_spec(maxUnavailable=6)["minAvailable"] == 0, "never below none"
    assert host_spec(maxUnavailable=0)["minAvailable"] == 4
    assert host_spec([], maxUnavailable=1)["minAvailable"] == 0


@pytest.mark.parametrize(
    ("spec", "min_available"),
    [
        ({"minAvailable": 2}, 2),
        ({"minAvailable": 9}, 9),  # as it is, more than there are included
        ({"minAvailable": "50%"}, 2),
        ({"minAvailable": "60%"}, 3),  # 2.4 rounds up
        ({"minAvailable": "100%"}, 4),
        ({"minAvailable": "0%"}, 0),
        ({"maxUnavailable": "50%"}, 2),
        ({"maxUnavailable": "10%"}, 3),  # 0.4 unavailable rounds up to 1
        ({"maxUnavailable": "100%"}, 0),
        ({"maxUnavailable": "0%"}, 4),
    ],
)
def test_a_percentage_is_of_the_expected_pods_rounded_up(spec: dict, min_available: int) -> None:
    out = host_spec(**spec)
    assert out["minAvailable"] == min_available
    assert "maxUnavailable" not in out


def test_a_budget_without_a_bound_stays_without_one() -> None:
    assert "minAvailable" not in host_spec()
    assert "maxUnavailable" not in host_spec()


def test_a_bound_that_is_no_percentage_allows_nothing() -> None:
    # The API server refuses it; the disruption controller would allow no disruption.
    for bad in ("5", "x%", "5.5%", " 5%", "1_0%", True):
        assert host_spec(maxUnavailable=bad)["minAvailable"] == 4


def k8s_desired_healthy(spec: dict, scale: int) -> int:
    """desiredHealthy as the disruption controller's getExpectedPodCount computes it when
    the pods' controllers have SCALE replicas (GetScaledValueFromIntOrPercent in floats)."""

    def scaled(value: int | str) -> int:
        if isinstance(value, int):
            return value
        return math.ceil(float(int(value[:-1])) * float(scale) / 100)

    if spec.get("maxUnavailable") is not None:
        return max(0, scale - scaled(spec["maxUnavailable"]))
    return scaled(spec["minAvailable"])


bounds = st.one_of(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=100).map(lambda p: f"{p}%"),
)


@given(
    bound=bounds,
    field=st.sampled_from(["minAvailable", "maxUnavailable"]),
    scale=st.integers(min_value=0, max_value=100_000),
)
def test_the_host_bound_is_the_desired_healthy_of_kubernetes(
    bound: int | str, field: str, scale: int
) -> None:
    """With as many pods as the controllers' scale, the host's integer budget wants as
    many healthy pods as Kubernetes wants for the tenant's budget, so it allows the same
    disruptions for every count of healthy pods."""
    spec = {field: bound}
    assert pdbs.host_min_available(spec, scale) == k8s_desired_healthy(spec, scale)
    if field == "maxUnavailable" or isinstance(bound, str):
        assert 0 <= pdbs.host_min_available(spec, scale) <= scale


keys = st.sampled_from(["app", "tier", "example.com/x", "subkube.io/tier", "a.subkube.io/b"])
values = st.sampled_from(["a", "b", "c"])
label_sets = st.dictionaries(keys, values, max_size=4)
expressions = st.builds(
    lambda key, op, vals: (
        {"key": key, "operator": op, "values": vals}
        if op in ("In", "NotIn")
        else {"key": key, "operator": op}
    ),
    keys,
    st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    st.lists(values, min_size=1, max_size=2),
)
selectors = st.fixed_dictionaries(
    {},
    optional={"matchLabels": label_sets, "matchExpressions": st.lists(expressions, max_size=3)},
)


@given(selector=selectors, labels=label_sets)
def test_the_pods_counted_are_the_pods_the_host_copy_selects(selector: dict, labels: dict) -> None:
    host_sel = pdbs.host_selector(selector, vcluster="vc1", namespace="demo")
    assert pdbs.selects(selector, labels) == _matches(host_pod_labels(labels), host_sel)


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
    update = pdbs.status_to_virtual(v, hobj, pod_names=pod_names, now=NOW)
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
    assert pdbs.status_to_virtual({**v, **update}, hobj, pod_names=pod_names, now=NOW) is None


def test_status_of_a_host_behind_its_spec_keeps_the_virtual_generation() -> None:
    v = {**vpdb({}), "status": {"observedGeneration": 2, "disruptionsAllowed": 0}}
    hobj = {"metadata": {"generation": 8}, "status": host_status()}
    status = pdbs.status_to_virtual(v, hobj, pod_names={}, now=NOW)["status"]
    assert status["observedGeneration"] == 2
    assert status["conditions"][0]["observedGeneration"] == 2
    fresh = {**vpdb({}), "status": {}}
    status = pdbs.status_to_virtual(fresh, hobj, pod_names={}, now=NOW)["status"]
    assert "observedGeneration" not in status
    assert "observedGeneration" not in status["conditions"][0]


def test_no_host_status_yet_changes_nothing() -> None:
    assert pdbs.status_to_virtual(vpdb({}), {"metadata": {}}, pod_names={}, now=NOW) is None


def evicted_inside(allowed: int, **disrupted: str) -> dict:
    """A virtual budget as the eviction API leaves it: the pod listed, a disruption taken."""
    return {
        **vpdb({}),
        "status": {**host_status(), "disruptionsAllowed": allowed, "disruptedPods": disrupted},
    }


PODS = {"web-1-x-demo-x-vc1": "web-1", "web-2-x-demo-x-vc1": "web-2"}


def test_an_eviction_inside_stays_taken_until_the_host_counts_it() -> None:
    hobj = {"metadata": {"generation": 7}, "status": host_status(disruptionsAllowed=2)}
    v = evicted_inside(1, **{"web-1": "2026-01-01T00:00:30Z"})
    status = pdbs.status_to_virtual(v, hobj, pod_names=PODS, now=NOW)["status"]
    assert status["disruptedPods"] == {"web-1": "2026-01-01T00:00:30Z"}
    assert status["disruptionsAllowed"] == 1
    assert status["currentHealthy"] == 3, "the host's counts stay the host's"

    # The host's last disruption is the one taken inside: none is left.
    hobj["status"]["disruptionsAllowed"] = 1
    status = pdbs.status_to_virtual(v, hobj, pod_names=PODS, now=NOW)["status"]
    assert status["disruptionsAllowed"] == 0
    (allowed,) = [c for c in status["conditions"] if c["type"] == "DisruptionAllowed"]
    assert (allowed["status"], allowed["reason"]) == ("False", "InsufficientPods")
    assert allowed["lastTransitionTime"] == "2026-01-01T00:01:00Z"
    assert allowed["observedGeneration"] == 3
    # Written back, the same host status changes nothing more (no write loop).
    later = NOW + dt.timedelta(seconds=5)
    assert pdbs.status_to_virtual({**v, "status": status}, hobj, pod_names=PODS, now=later) is None


def test_an_eviction_is_given_back_once_its_pod_is_gone_or_too_old() -> None:
    hobj = {"metadata": {"generation": 7}, "status": host_status()}
    v = evicted_inside(0, **{"web-1": "2026-01-01T00:00:30Z"})
    gone = pdbs.status_to_virtual(v, hobj, pod_names={"web-2-x-demo-x-vc1": "web-2"}, now=NOW)
    assert gone["status"]["disruptionsAllowed"] == 1
    assert not gone["status"].get("disruptedPods")
    expired = pdbs.status_to_virtual(v, hobj, pod_names=PODS, now=NOW + pdbs.DELETION_TIMEOUT)
    assert expired["status"]["disruptionsAllowed"] == 1


def test_an_eviction_the_host_lists_is_counted_once() -> None:
    hobj = {
        "metadata": {"generation": 7},
        "status": host_status(
            disruptionsAllowed=0, disruptedPods={"web-1-x-demo-x-vc1": "2026-01-01T00:00:31Z"}
        ),
    }
    v = evicted_inside(0, **{"web-1": "2026-01-01T00:00:30Z"})
    status = pdbs.status_to_virtual(v, hobj, pod_names=PODS, now=NOW)["status"]
    assert status["disruptedPods"] == {"web-1": "2026-01-01T00:00:31Z"}
    assert status["disruptionsAllowed"] == 0
