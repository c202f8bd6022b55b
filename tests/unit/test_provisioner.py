"""The local host's storage provisioner, with plain dicts."""

from pathlib import Path

from subkube.hostcluster import provisioner as prov


def claim(**annotations: str) -> dict:
    return {
        "metadata": {"name": "data", "namespace": "ns", "uid": "u1", "annotations": annotations},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Pending"},
    }


def test_only_claims_handed_to_this_provisioner_get_a_volume() -> None:
    assert prov.wants_volume(
        claim(**{"volume.kubernetes.io/storage-provisioner": prov.PROVISIONER})
    )
    assert not prov.wants_volume(claim())
    assert not prov.wants_volume(claim(**{"volume.kubernetes.io/storage-provisioner": "ebs"}))
    bound = claim(**{"volume.kubernetes.io/storage-provisioner": prov.PROVISIONER})
    bound["spec"]["volumeName"] = "pv"
    assert not prov.wants_volume(bound)


def test_the_volume_is_a_directory_reserved_for_the_claim() -> None:
    volume = prov.volume_for(claim(), Path("/v/pvc-u1"))
    assert volume["metadata"]["name"] == "pvc-u1"
    assert volume["spec"]["hostPath"]["path"] == "/v/pvc-u1"
    assert volume["spec"]["capacity"] == {"storage": "5Gi"}
    assert volume["spec"]["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "data",
        "uid": "u1",
    }
    assert volume["spec"]["storageClassName"] == prov.CLASS_NAME
    volume["status"] = {"phase": "Released"}
    assert prov.ours_and_released(volume)
    volume["metadata"]["annotations"] = {}
    assert not prov.ours_and_released(volume)


def test_the_class_is_the_default() -> None:
    sc = prov.storage_class()
    assert sc["metadata"]["annotations"][prov.DEFAULT_CLASS_ANNOTATION] == "true"
    assert sc["provisioner"] == prov.PROVISIONER
