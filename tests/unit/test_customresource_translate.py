"""Custom resources both ways, with plain dicts: the definition taken from the host, the
host copy of a tenant object, its status back, and the read-only copy of a host object."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subkube.kube.memory import merge_patch as apply_merge_patch
from subkube.kube.resource import Resource
from subkube.syncer import names
from subkube.syncer.resources.customresources import translate

Obj = dict[str, Any]
OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "owner-uid"}


def crd(scope: str = "Namespaced", versions: list[Obj] | None = None) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "widgets.example.com",
            "uid": "crd-uid",
            "resourceVersion": "9",
            "labels": {"app.kubernetes.io/part-of": "widget-operator"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": versions
            or [
                {"name": "v1alpha1", "served": True, "storage": False},
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                },
            ],
            "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {}}},
        },
        "status": {"conditions": [{"type": "Established", "status": "True"}]},
    }


def test_the_version_read_and_written_is_the_served_storage_version() -> None:
    assert translate.served_version(crd()) == "v1"
    not_served = [
        {"name": "v1", "served": False, "storage": True},
        {"name": "v2", "served": True, "storage": False},
    ]
    assert translate.served_version(crd(versions=not_served)) == "v2"
    assert translate.served_version(crd(versions=[{"name": "v1", "served": False}])) is None
    assert translate.resource_of(crd(), "v1") == Resource("example.com", "v1", "widgets", "Widget")
    assert not translate.resource_of(crd("Cluster"), "v1").namespaced
    assert translate.has_status(crd(), "v1")
    assert not translate.has_status(crd(), "v1alpha1")


@pytest.mark.parametrize(
    ("definition", "direction", "scope", "expected"),
    [
        (crd(), "toHost", "Namespaced", None),
        (crd("Cluster"), "fromHost", "Cluster", None),
        (None, "toHost", "Namespaced", "the host has no CustomResourceDefinition"),
        (crd("Cluster"), "toHost", "Namespaced", "only namespaced custom resources"),
        (crd("Cluster"), "fromHost", "Namespaced", "set scope: Cluster"),
        (crd(), "fromHost", "Cluster", "set scope: Namespaced"),
        (crd(versions=[{"name": "v1", "served": False}]), "toHost", "Namespaced", "no version"),
    ],
)
def test_a_definition_that_cannot_serve_the_config_is_explained(
    definition: Obj | None, direction: str, scope: str, expected: str | None
) -> None:
    problem = translate.definition_problem(
        definition, name="widgets.example.com", direction=direction, scope=scope
    )
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem
        assert "\n" not in problem


def test_the_definition_inside_is_the_hosts_without_its_webhook() -> None:
    inside = translate.virtual_definition(crd())
    assert inside["metadata"] == {
        "name": "widgets.example.com",
        "labels": {
            "app.kubernetes.io/part-of": "widget-operator",
            translate.FROM_HOST_LABEL: "true",
        },
    }
    assert "status" not in inside
    assert "conversion" not in inside["spec"]
    assert inside["spec"]["versions"] == crd()["spec"]["versions"]
    assert translate.established(crd())
    assert not translate.established(inside)


def widget(**extra: Any) -> Obj:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": "w1",
            "namespace": "demo",
            "uid": "w-uid",
            "resourceVersion": "5",
            "generation": 2,
            "labels": {"app": "shop"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "finalizers": ["tenant.example.com/keep"],
        },
        "spec": {"size": 3, "colors": ["red"]},
        "data": {"free": "form"},
        "status": {"phase": "Old"},
        **extra,
    }


def to_host(vobj: Obj) -> Obj:
    return translate.to_host(
        vobj, kind="Widget", vcluster="vc1", host_namespace="team-a", owner=OWNER
    )


def test_the_host_copy_is_the_tenant_object_under_our_metadata() -> None:
    hobj = to_host(widget())
    assert hobj == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": names.host_metadata(
            widget(), kind="Widget", vcluster="vc1", host_namespace="team-a", owner=OWNER
        ),
        "spec": {"size": 3, "colors": ["red"]},
        "data": {"free": "form"},
    }
    assert hobj["metadata"]["name"] == "w1-x-demo-x-vc1"
    assert "finalizers" not in hobj["metadata"], "the tenant's finalizers stay inside"
    assert names.is_ours(hobj, vcluster="vc1")


def test_an_edit_inside_reaches_the_host_copy_and_removals_too() -> None:
    actual = to_host(widget())
    actual["metadata"]["resourceVersion"] = "77"
    assert translate.host_update(to_host(widget()), actual) is None
    edited = widget(spec={"size": 4}, extra={"new": True})
    del edited["data"]
    patch = translate.host_update(to_host(edited), actual)
    assert patch == {"data": None, "extra": {"new": True}, "spec": {"size": 4, "colors": None}}


def test_the_status_the_operator_writes_comes_back() -> None:
    hobj = to_host(widget())
    assert translate.status_update(widget(), hobj) == {"status": {}}
    hobj["status"] = {"phase": "Ready", "observedGeneration": 1}
    assert translate.status_update(widget(), hobj) == {"status": hobj["status"]}
    assert translate.status_update(widget(status=hobj["status"]), hobj) is None


def host_gadget() -> Obj:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {
            "name": "g1",
            "namespace": "team-a",
            "uid": "g-uid",
            "resourceVersion": "11",
            "generation": 4,
            "labels": {"tier": "shared"},
            "annotations": {"note": "from ops"},
            "ownerReferences": [{"kind": "Thing", "name": "x", "uid": "t"}],
            "finalizers": ["ops.example.com/cleanup"],
        },
        "spec": {"plan": "gold"},
        "status": {"ready": True},
    }


def test_the_copy_inside_is_the_host_object_with_its_status_in_the_mapped_namespace() -> None:
    inside = translate.to_virtual(host_gadget(), namespace="shared")
    assert inside == {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {
            "name": "g1",
            "namespace": "shared",
            "labels": {"tier": "shared", translate.FROM_HOST_LABEL: "true"},
            "annotations": {"note": "from ops"},
        },
        "spec": {"plan": "gold"},
        "status": {"ready": True},
    }
    assert translate.is_copy(inside)
    cluster_scoped = translate.to_virtual(host_gadget(), namespace=None)
    assert "namespace" not in cluster_scoped["metadata"]


def test_a_tenants_edit_of_a_copy_is_undone_by_one_patch() -> None:
    desired = translate.to_virtual(host_gadget(), namespace="shared")
    stored = {**desired, "metadata": {**desired["metadata"], "uid": "v", "resourceVersion": "3"}}
    assert translate.copy_patch(desired, stored, with_status=False) is None
    assert translate.status_patch(desired, stored) is None
    edited = {
        **stored,
        "metadata": {**stored["metadata"], "labels": {"tier": "mine"}},
        "spec": {"plan": "free", "extra": 1},
        "status": {"ready": False},
    }
    patch = translate.copy_patch(desired, edited, with_status=False)
    assert patch == {
        "metadata": {"labels": {"tier": "shared", translate.FROM_HOST_LABEL: "true"}},
        "spec": {"plan": "gold", "extra": None},
    }
    assert translate.status_patch(desired, edited) == {"ready": True}
    # Without the status subresource, the status is part of the one patch.
    assert translate.copy_patch(desired, edited, with_status=True)["status"] == {"ready": True}


def test_the_host_selector_never_shows_a_vclusters_copies() -> None:
    assert translate.host_selector({}) == "!subkube.io/managed-by"
    assert translate.host_selector({"tier": "shared", "a": "b"}) == (
        "a=b,tier=shared,!subkube.io/managed-by"
    )


# No nulls: a merge patch cannot set one (null deletes), which holds for every kind's copy.
json_value = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
content = st.dictionaries(
    st.sampled_from(["spec", "data", "extra"]),
    st.dictionaries(st.text(max_size=3), json_value, max_size=3),
)


@given(content, content)
def test_the_host_update_turns_any_copy_into_the_tenants(want: Obj, have: Obj) -> None:
    desired = {"metadata": {"name": "w"}, **want}
    actual = {"metadata": {"name": "w"}, "status": {"phase": "x"}, **have}
    patch = translate.host_update(desired, actual)
    patched = apply_merge_patch(actual, patch or {})
    assert {k: v for k, v in patched.items() if k not in ("metadata", "status")} == want
    assert patched["status"] == actual["status"]
