"""Tenant StorageClasses to the host, the default class inside, and class names of claims,
with plain dicts."""

from hypothesis import given
from hypothesis import strategies as st

from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.hostclasses.translate import FROM_HOST_LABEL
from subkube.syncer.resources.storageclasses import translate

KW = {"vcluster": "vc1", "host_namespace": "team-a"}
DEFAULT = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT = "storageclass.beta.kubernetes.io/is-default-class"


def tenant_class(name: str = "fast", **extra: object) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "annotations": {DEFAULT: "true", BETA_DEFAULT: "true", "note": "mine"},
        },
        "provisioner": "nfs.csi.k8s.io",
        "parameters": {"server": "10.0.0.5", "share": "/exports"},
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
        "mountOptions": ["nfsvers=4.1"],
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}],
        **extra,
    }


def test_the_host_copy_keeps_the_class_but_is_never_the_default() -> None:
    v = tenant_class()
    host = translate.to_host(v, **KW)
    assert host["metadata"]["name"] == "subkube-fast-x-team-a-x-vc1"
    assert host["metadata"]["annotations"] == {
        "note": "mine",
        names.ANNOTATION_NAME: "fast",
        names.ANNOTATION_NAMESPACE: "",
        names.ANNOTATION_UID: "uid-fast",
        names.ANNOTATION_KIND: "StorageClass",
    }
    assert "ownerReferences" not in host["metadata"]
    assert "namespace" not in host["metadata"]
    for field in (
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "volumeBindingMode",
        "allowVolumeExpansion",
        "mountOptions",
        "allowedTopologies",
    ):
        assert host[field] == v[field]
    assert clusterscoped.is_ours(host, **KW)


def test_classes_mirrored_from_the_host_are_not_copied_back() -> None:
    assert translate.wanted(tenant_class())
    mirrored = tenant_class()
    mirrored["metadata"]["labels"] = {FROM_HOST_LABEL: "true"}
    assert not translate.wanted(mirrored)


def test_the_default_inside_is_the_newest_marked_class() -> None:
    def cls(name: str, created: str | None, mark: str | None = DEFAULT, value: str = "true"):
        meta: dict = {"name": name, "annotations": {mark: value} if mark else {}}
        if created:
            meta["creationTimestamp"] = created
        return {"metadata": meta}

    assert translate.default_class([]) is None
    assert translate.default_class([cls("a", "2026-01-01T00:00:00Z", None)]) is None
    assert translate.default_class([cls("a", "2026-01-01T00:00:00Z", value="false")]) is None
    classes = [
        cls("old", "2026-01-01T00:00:00Z"),
        cls("new", "2026-03-01T00:00:00Z", BETA_DEFAULT),
        cls("newest-unmarked", "2026-05-01T00:00:00Z", None),
        cls("undated", None),
    ]
    assert translate.default_class(classes) == "new"
    # Equally new: the first by name, as the admission sorts them.
    twins = [cls("b", "2026-03-01T00:00:00Z"), cls("a", "2026-03-01T00:00:00Z")]
    assert translate.default_class(twins) == "a"


def test_immutable_fields_replace_and_the_rest_is_patched() -> None:
    desired = translate.to_host(tenant_class(), **KW)
    actual = translate.to_host(tenant_class(), **KW)
    assert translate.host_spec_update(desired, actual) is None
    changed = {**actual, "parameters": {"server": "10.0.0.6"}, "reclaimPolicy": "Delete"}
    assert translate.host_spec_update(desired, changed) == clusterscoped.Replace(
        ("parameters", "reclaimPolicy")
    )
    edited = {**actual, "allowVolumeExpansion": False, "mountOptions": ["ro"]}
    assert translate.host_spec_update(desired, edited) == {
        "allowVolumeExpansion": True,
        "mountOptions": ["nfsvers=4.1"],
    }
    bare = {"metadata": desired["metadata"], "provisioner": "nfs.csi.k8s.io"}
    # As the API server returns a class created bare: its defaults filled in, empties left out.
    stored = {**bare, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
    assert (
        translate.host_spec_update({**bare, "parameters": {}, "mountOptions": []}, stored) is None
    )
    assert translate.host_spec_update(bare, {**stored, "mountOptions": ["ro"]}) == {
        "mountOptions": None
    }


def test_claims_use_the_host_name_of_synced_classes_only() -> None:
    synced = {"fast"}
    assert translate.claim_class("fast", synced=synced, **KW) == "subkube-fast-x-team-a-x-vc1"
    assert translate.claim_class("standard", synced=synced, **KW) == "standard"
    assert translate.claim_class("", synced=synced, **KW) == ""
    # Another vcluster's copy, by its host name: never reached.
    theirs = names.host_cluster_name("fast", "team-b", "vc1")
    assert translate.claim_class(theirs, synced=synced, **KW) == names.host_cluster_name(
        theirs, "team-a", "vc1"
    )
    assert translate.claim_class(theirs, synced=set(), **KW) != theirs
    back = translate.virtual_class_names(synced, **KW)
    assert back == {"subkube-fast-x-team-a-x-vc1": "fast"}


def test_literal_secret_parameters_name_the_tenants_host_copy() -> None:
    params = {
        "csi.storage.k8s.io/node-publish-secret-name": "nfs-creds",
        "csi.storage.k8s.io/node-publish-secret-namespace": "storage",
        "csiProvisionerSecretName": "prov",
        "csiProvisionerSecretNamespace": "storage",
        "server": "10.0.0.5",
    }
    v = tenant_class(parameters=params)
    host = translate.to_host(v, **KW)
    assert host["parameters"] == {
        "csi.storage.k8s.io/node-publish-secret-name": "nfs-creds-x-storage-x-vc1",
        "csi.storage.k8s.io/node-publish-secret-namespace": "team-a",
        "csiProvisionerSecretName": "prov-x-storage-x-vc1",
        "csiProvisionerSecretNamespace": "team-a",
        "server": "10.0.0.5",
    }
    assert v["parameters"] == params
    assert translate.secret_references(v) == [("storage", "nfs-creds"), ("storage", "prov")]
    assert translate.refusal(v, "restricted") is None


def test_secret_parameters_that_could_name_any_host_secret_are_refused() -> None:
    v = tenant_class(
        parameters={
            # The tenant would pick the name per claim, in the vcluster's own namespace.
            "csi.storage.k8s.io/provisioner-secret-name": "${pvc.annotations['key']}",
            "csi.storage.k8s.io/provisioner-secret-namespace": "${pvc.namespace}",
            # No namespace to translate it into.
            "csi.storage.k8s.io/node-stage-secret-name": "stage",
        }
    )
    assert translate.refusal(v, "baseline") == (
        "parameters[csi.storage.k8s.io/node-stage-secret-name]: forbidden by baseline; "
        "parameters[csi.storage.k8s.io/provisioner-secret-name]: forbidden by baseline; "
        "parameters[csi.storage.k8s.io/provisioner-secret-namespace]: forbidden by baseline"
    )
    assert translate.refusal(v, "privileged") is None
    # Kept as written: only a privileged vcluster gets this far.
    assert translate.to_host(v, **KW)["parameters"] == v["parameters"]
    assert translate.secret_references(v) == []
    assert translate.refusal(tenant_class(), "restricted") is None


_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z", fullmatch=True)
class_names = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 253)


@given(class_names, st.sets(class_names, max_size=3))
def test_a_claim_class_changes_exactly_when_synced(name: str, synced: set[str]) -> None:
    got = translate.claim_class(name, synced=synced, **KW)
    assert (got != name) == (name in synced or name.startswith(names.CLUSTER_PREFIX))
    if name in synced:
        assert names.is_dns_label(got)
        assert translate.virtual_class_names(synced, **KW)[got] == name
