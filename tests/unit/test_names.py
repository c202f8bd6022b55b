import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subkube.syncer import names

_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z", fullmatch=True)
# Object names may be DNS subdomains (dots), and may contain our separator.
_subdomain = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 253)
_tricky = st.sampled_from(["a", "b", "a-x-b", "b-x-c", "x", "a-x", "x-b", "kube-root-ca.crt"])
object_names = st.one_of(_subdomain, _tricky)
namespaces = st.one_of(_label, _tricky.filter(lambda s: "." not in s))
vclusters = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?\Z", fullmatch=True).filter(
    lambda s: "-x-" not in s
)


def test_short_names_are_readable() -> None:
    assert names.host_name("web", "demo", "vc1") == "web-x-demo-x-vc1"
    assert names.host_cluster_name("fast", "team-a", "vc1") == "subkube-fast-x-team-a-x-vc1"


def test_long_names_are_cut_to_52_plus_hash() -> None:
    long = "a" * 70
    got = names.host_name(long, "demo", "vc1")
    assert len(got) == 63
    assert got[:52] == ("a" * 52)
    assert got[52] == "-"
    assert got[53:] == hashlib.sha256(f"{long}/demo/vc1".encode()).hexdigest()[:10]


def test_the_separator_cannot_make_two_objects_meet() -> None:
    assert names.host_name("a-x-b", "c", "vc") != names.host_name("a", "b-x-c", "vc")
    # A part that starts with `x-` or ends with `-x` moves the separator too.
    assert names.host_name("a-x", "b", "vc") != names.host_name("a", "x-b", "vc")
    assert names.host_name("a", "b-x", "v") != names.host_name("a", "b", "x-v")
    assert names.host_cluster_name("a-x", "x", "v") != names.host_cluster_name("a", "x", "x-v")


@given(object_names, namespaces, vclusters)
def test_every_host_name_is_a_dns_label(name: str, namespace: str, vc: str) -> None:
    assert names.is_dns_label(names.host_name(name, namespace, vc))
    assert names.is_dns_label(names.host_cluster_name(name, namespace, vc))


@given(object_names, namespaces, object_names, namespaces, vclusters)
def test_host_names_are_injective(n1: str, ns1: str, n2: str, ns2: str, vc: str) -> None:
    if (n1, ns1) != (n2, ns2):
        assert names.host_name(n1, ns1, vc) != names.host_name(n2, ns2, vc)


@given(object_names, namespaces, vclusters, st.text(min_size=1, max_size=36))
def test_annotations_map_back(name: str, namespace: str, vc: str, uid: str) -> None:
    virtual = {"metadata": {"name": name, "namespace": namespace, "uid": uid}}
    host = {
        "metadata": {
            "name": names.host_name(name, namespace, vc),
            "labels": names.host_labels({}, vcluster=vc, namespace=namespace),
            "annotations": names.owner_annotations(virtual, "Pod"),
        }
    }
    assert names.virtual_key(host) == (namespace, name)
    assert names.is_ours(host, vcluster=vc)
    assert not names.is_ours(host, vcluster=vc + "z")


def test_objects_with_partial_markers_are_not_ours() -> None:
    virtual = {"metadata": {"name": "web", "namespace": "demo", "uid": "u1"}}
    good = {
        "metadata": {
            "name": "web-x-demo-x-vc1",
            "labels": names.host_labels({}, vcluster="vc1", namespace="demo"),
            "annotations": names.owner_annotations(virtual, "Pod"),
        }
    }
    assert names.is_ours(good, vcluster="vc1")
    no_annotations = {"metadata": {**good["metadata"], "annotations": {}}}
    assert not names.is_ours(no_annotations, vcluster="vc1")
    no_labels = {"metadata": {**good["metadata"], "labels": {}}}
    assert not names.is_ours(no_labels, vcluster="vc1")
    renamed = {"metadata": {**good["metadata"], "name": "someone-else"}}
    assert not names.is_ours(renamed, vcluster="vc1")


def test_user_labels_are_kept_unless_they_collide_with_ours() -> None:
    out = names.host_labels(
        {"app": "web", "subkube.io/managed-by": "evil", "x.subkube.io/y": "1"},
        vcluster="vc1",
        namespace="demo",
    )
    assert out["app"] == "web"
    assert out[names.LABEL_MANAGED_BY] == "vc1"
    assert out[names.LABEL_NAMESPACE] == "demo"
    rewritten = [k for k in out if k.startswith("subkube.io/label-vc1-x-")]
    assert len(rewritten) == 2
    assert names.host_selector({"app": "web"}, vcluster="vc1", namespace="demo") == {
        "app": "web",
        names.LABEL_MANAGED_BY: "vc1",
        names.LABEL_NAMESPACE: "demo",
    }


@pytest.mark.parametrize("bad", ["", "UPPER", "has-x-sep", "-dash", "a" * 41])
def test_vcluster_names_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid vcluster name"):
        names.validate_vcluster_name(bad)


def test_merge_patch_diffs_nested_objects_and_nulls_removals() -> None:
    from subkube.syncer.merge import merge_patch

    actual = {
        "phase": "Pending",
        "lb": {"ingress": [{"ip": "1"}]},
        "gone": 1,
        "conditions": [{"type": "A"}],
    }
    wanted = {"phase": "Running", "lb": {}, "conditions": [{"type": "A"}], "podIP": "10.0.0.1"}
    assert merge_patch(actual, wanted) == {
        "phase": "Running",
        "lb": {"ingress": None},
        "gone": None,
        "podIP": "10.0.0.1",
    }
    assert merge_patch(actual, actual) == {}


# Label and annotation keys: an optional DNS prefix, then letters, digits, '-', '_', '.'.
label_keys = st.from_regex(r"\A([a-z0-9.-]{1,20}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,30}\Z")


@given(st.sets(label_keys, max_size=8))
def test_the_record_of_our_keys_reads_as_it_did_with_the_standard_json(keys: set[str]) -> None:
    """Host copies made before the record moved to orjson carry its text: a record that read
    differently would patch every one of them once."""
    from subkube.syncer.merge import record

    assert record(keys) == json.dumps(sorted(keys), separators=(",", ":"))
