"""Tenant PriorityClasses to the host, and what all cluster-scoped copies share, with plain
dicts."""

from hypothesis import given
from hypothesis import strategies as st

from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.hostclasses.translate import FROM_HOST_LABEL
from subkube.syncer.resources.priorityclasses import translate

KW = {"vcluster": "vc1", "host_namespace": "team-a"}

_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z", fullmatch=True)
_tricky = st.sampled_from(["a", "x", "a-x", "x-a", "a-x-b", "high.prio", "x-x"])
class_names = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 253),
    _tricky,
)
vclusters = st.one_of(
    st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?\Z", fullmatch=True),
    st.sampled_from(["v", "x-v", "v-x", "x"]),
).filter(lambda s: "-x-" not in s)
host_namespaces = st.one_of(_label, st.sampled_from(["team-a", "x-b", "b-x", "x", "x-x"]))


def tenant_class(**extra: object) -> dict:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {
            "name": "high",
            "uid": "pc-uid",
            "resourceVersion": "4",
            "labels": {"tier": "gold"},
            "annotations": {
                "note": "mine",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "value": 1000,
        "preemptionPolicy": "Never",
        "description": "batch that matters",
        **extra,
    }


def test_the_host_copy_is_prefixed_recorded_and_never_the_default() -> None:
    host = translate.to_host(tenant_class(globalDefault=True), **KW)
    assert host == {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {
            "name": "subkube-high-x-team-a-x-vc1",
            "labels": {
                "tier": "gold",
                names.LABEL_MANAGED_BY: "vc1",
                clusterscoped.LABEL_HOST_NAMESPACE: "team-a",
            },
            "annotations": {
                "note": "mine",
                names.ANNOTATION_NAME: "high",
                names.ANNOTATION_NAMESPACE: "",
                names.ANNOTATION_UID: "pc-uid",
                names.ANNOTATION_KIND: "PriorityClass",
            },
        },
        "value": 1000,
        "globalDefault": False,
        "preemptionPolicy": "Never",
        "description": "batch that matters",
    }
    assert names.virtual_key(host) == ("", "high")
    assert clusterscoped.is_ours(host, **KW)


def test_a_cluster_copy_is_ours_only_for_its_own_vcluster_and_host_namespace() -> None:
    host = translate.to_host(tenant_class(), **KW)
    assert not clusterscoped.is_ours(host, vcluster="vc1", host_namespace="team-b")
    assert not clusterscoped.is_ours(host, vcluster="vc2", host_namespace="team-a")
    # The same vcluster name in another host namespace made this one: its label and its
    # name both say so.
    other = translate.to_host(tenant_class(), vcluster="vc1", host_namespace="team-b")
    assert not clusterscoped.is_ours(other, **KW)
    relabelled = {
        **other,
        "metadata": {
            **other["metadata"],
            "labels": {**other["metadata"]["labels"], clusterscoped.LABEL_HOST_NAMESPACE: "team-a"},
        },
    }
    assert not clusterscoped.is_ours(relabelled, **KW)
    renamed = {**host, "metadata": {**host["metadata"], "name": "subkube-other-x-team-a-x-vc1"}}
    assert not clusterscoped.is_ours(renamed, **KW)


def test_built_in_and_mirrored_classes_are_not_copied() -> None:
    assert translate.wanted(tenant_class())
    builtin = tenant_class()
    builtin["metadata"]["name"] = "system-node-critical"
    assert not translate.wanted(builtin)
    mirrored = tenant_class()
    mirrored["metadata"]["labels"][FROM_HOST_LABEL] = "true"
    assert not translate.wanted(mirrored)


def test_immutable_fields_replace_and_the_rest_is_patched() -> None:
    desired = translate.to_host(tenant_class(), **KW)
    actual = translate.to_host(tenant_class(), **KW)
    assert translate.host_spec_update(desired, actual) is None
    assert translate.host_spec_update(desired, {**actual, "description": "old"}) == {
        "description": "batch that matters"
    }
    # Someone on the host made it the default: it is put back.
    assert translate.host_spec_update(desired, {**actual, "globalDefault": True}) == {
        "globalDefault": False
    }
    undescribed = {k: v for k, v in desired.items() if k != "description"}
    assert translate.host_spec_update(undescribed, actual) == {"description": None}
    assert translate.host_spec_update(desired, {**actual, "value": 10}) == (
        clusterscoped.Replace(("value",))
    )
    assert translate.host_spec_update(
        desired, {**actual, "value": 10, "preemptionPolicy": "PreemptLowerPriority"}
    ) == clusterscoped.Replace(("value", "preemptionPolicy"))


def test_fields_the_api_server_omits_or_defaults_are_no_change() -> None:
    desired = translate.to_host(tenant_class(), **KW)
    del desired["preemptionPolicy"]
    desired["description"] = ""
    # As the host API server returns it: the default filled in, false and "" left out.
    actual = {k: v for k, v in desired.items() if k not in ("globalDefault", "description")}
    actual["preemptionPolicy"] = "PreemptLowerPriority"
    assert translate.host_spec_update(desired, actual) is None


def test_pods_name_the_host_copy_except_for_built_in_classes() -> None:
    assert translate.host_class_name("high", **KW) == "subkube-high-x-team-a-x-vc1"
    assert translate.host_class_name("system-node-critical", **KW) == ""
    assert translate.host_class_name("system-cluster-critical", **KW) == ""
    assert translate.host_class_name("", **KW) == ""
    host = translate.to_host(tenant_class(), **KW)
    assert translate.host_class_name("high", **KW) == host["metadata"]["name"]


@given(class_names, vclusters, host_namespaces)
def test_host_names_are_dns_labels(name: str, vcluster: str, host_namespace: str) -> None:
    vobj = {"metadata": {"name": name, "uid": "u"}, "value": 1}
    host = translate.to_host(vobj, vcluster=vcluster, host_namespace=host_namespace)
    assert names.is_dns_label(host["metadata"]["name"])
    assert host["globalDefault"] is False
    assert clusterscoped.is_ours(host, vcluster=vcluster, host_namespace=host_namespace)


@given(class_names, vclusters, class_names, vclusters, host_namespaces)
def test_different_classes_never_meet_on_the_host(
    n1: str, vc1: str, n2: str, vc2: str, host_namespace: str
) -> None:
    if (n1, vc1) != (n2, vc2):
        assert translate.host_class_name(
            n1, vcluster=vc1, host_namespace=host_namespace
        ) != translate.host_class_name(n2, vcluster=vc2, host_namespace=host_namespace)


def test_host_namespaces_of_xs_keep_classes_apart() -> None:
    assert names.host_cluster_name("a-x", "x", "v") != names.host_cluster_name("a", "x", "x-v")


def test_a_configured_maximum_lowers_higher_values_on_the_host_only() -> None:
    assert translate.to_host(tenant_class(), max_value=500, **KW)["value"] == 500
    assert translate.to_host(tenant_class(value=10), max_value=500, **KW)["value"] == 10
    assert translate.to_host(tenant_class(), **KW)["value"] == 1000
    # Lowering the maximum later replaces the copies it now caps.
    desired = translate.to_host(tenant_class(), max_value=500, **KW)
    actual = translate.to_host(tenant_class(), **KW)
    assert translate.host_spec_update(desired, actual) == clusterscoped.Replace(("value",))
