"""A claim's storage class through the host and back, with plain dicts."""

from subkube.syncer.resources.persistentvolumeclaims import translate as pvcs
from subkube.syncer.resources.storageclasses import translate as storageclasses

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW = {"vcluster": "vc1", "host_namespace": "team-a"}


def claim(storage_class: str | None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": "data", "namespace": "demo", "uid": "c1"}, "spec": spec}


def test_a_claim_names_the_host_copy_of_a_synced_tenant_class() -> None:
    host = pvcs.to_host(claim("fast"), owner=OWNER, storage_classes={"fast"}, **KW)
    assert host["spec"]["storageClassName"] == "subkube-fast-x-team-a-x-vc1"


def test_host_classes_no_class_and_unset_pass_unchanged() -> None:
    for name in ("standard", ""):
        host = pvcs.to_host(claim(name), owner=OWNER, storage_classes={"fast"}, **KW)
        assert host["spec"]["storageClassName"] == name
    host = pvcs.to_host(claim(None), owner=OWNER, storage_classes={"fast"}, **KW)
    assert "storageClassName" not in host["spec"]


def test_without_synced_classes_nothing_is_translated() -> None:
    host = pvcs.to_host(claim("fast"), owner=OWNER, **KW)
    assert host["spec"]["storageClassName"] == "fast"


def test_the_volume_shown_inside_names_the_virtual_class() -> None:
    hclaim = {
        "spec": {"volumeName": "pvc-9", "storageClassName": "subkube-fast-x-team-a-x-vc1"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}},
    }
    classes = storageclasses.virtual_class_names({"fast"}, **KW)
    volume = pvcs.virtual_volume(claim("fast"), hclaim, classes=classes)
    assert volume["spec"]["storageClassName"] == "fast"
    # A host class is its own name inside too.
    hclaim["spec"]["storageClassName"] = "standard"
    volume = pvcs.virtual_volume(claim("standard"), hclaim, classes=classes)
    assert volume["spec"]["storageClassName"] == "standard"
    assert pvcs.virtual_volume(claim("standard"), hclaim)["spec"]["storageClassName"] == (
        "standard"
    )


def test_a_claim_naming_a_tenant_volume_names_its_host_copy() -> None:
    vclaim = claim("")
    vclaim["spec"]["volumeName"] = "pv-a"
    host = pvcs.to_host(vclaim, owner=OWNER, volumes={"pv-a"}, **KW)
    assert host["spec"]["volumeName"] == "subkube-pv-a-x-team-a-x-vc1"
    # Any other name never reaches the host: it could name a host volume.
    for volumes in (frozenset(), {"pv-b"}):
        assert "volumeName" not in pvcs.to_host(vclaim, owner=OWNER, volumes=volumes, **KW)["spec"]


def test_a_claim_bound_to_a_tenant_volume_names_it_by_its_name_inside() -> None:
    hclaim = {
        "spec": {"volumeName": "subkube-pv-a-x-team-a-x-vc1", "storageClassName": ""},
        "status": {"phase": "Bound"},
    }
    binding = pvcs.claim_binding(claim(""), hclaim, tenant_volume="pv-a")
    assert binding == {"spec": {"volumeName": "pv-a"}}
    assert pvcs.claim_binding(claim(""), hclaim) == {
        "spec": {"volumeName": "subkube-pv-a-x-team-a-x-vc1"}
    }
