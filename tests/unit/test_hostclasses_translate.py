"""Host classes mirrored inside, with plain dicts."""

from subkube.syncer.resources.hostclasses import translate


def host_class() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "uid": "host-uid",
            "resourceVersion": "7",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "x"}],
            "labels": {"tier": "fast"},
            "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "provisioner": "subkube.io/local-path",
        "reclaimPolicy": "Delete",
    }


def test_the_copy_keeps_the_class_and_drops_host_bookkeeping() -> None:
    copy = translate.to_virtual(host_class())
    assert copy == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "labels": {"tier": "fast", translate.FROM_HOST_LABEL: "true"},
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "subkube.io/local-path",
        "reclaimPolicy": "Delete",
    }
    assert translate.from_host(copy)
    assert not translate.from_host(host_class())


def test_differs_sees_edits_but_not_server_fields() -> None:
    desired = translate.to_virtual(host_class())
    actual = translate.to_virtual(host_class())
    actual["metadata"].update(uid="v-uid", resourceVersion="3")
    assert not translate.differs(desired, actual)
    actual["reclaimPolicy"] = "Retain"
    assert translate.differs(desired, actual)
    actual = translate.to_virtual(host_class())
    actual["metadata"]["labels"]["tenant"] = "edit"
    assert translate.differs(desired, actual)
    actual = translate.to_virtual(host_class())
    actual["mountOptions"] = ["ro"]
    assert translate.differs(desired, actual)
