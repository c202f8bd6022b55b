"""Tenant PersistentVolumes to the host and back, with plain dicts."""

from hypothesis import given
from hypothesis import strategies as st

from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.persistentvolumeclaims import translate as pvcs
from subkube.syncer.resources.persistentvolumes import translate

KW = {"vcluster": "vc1", "host_namespace": "team-a"}
OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}


def volume(**spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "nfs-1",
            "uid": "pv-uid",
            "annotations": {"pv.kubernetes.io/provisioned-by": "nfs.csi.k8s.io", "note": "x"},
        },
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "nfs": {"server": "10.0.0.5", "path": "/exports/a"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": "demo",
                "name": "data",
                "uid": "virtual-claim-uid",
                "resourceVersion": "77",
            },
            **spec,
        },
    }


def test_the_host_copy_names_the_claims_host_copy() -> None:
    host = translate.to_host(volume(storageClassName="manual"), storage_classes={"manual"}, **KW)
    meta = host["metadata"]
    assert meta["name"] == "subkube-nfs-1-x-team-a-x-vc1"
    assert meta["annotations"][names.ANNOTATION_KIND] == "PersistentVolume"
    assert meta["annotations"]["note"] == "x"
    # A host provisioner must not delete, on the tenant's word, what the volume names.
    assert "pv.kubernetes.io/provisioned-by" not in meta["annotations"]
    assert clusterscoped.is_ours(host, **KW)
    spec = host["spec"]
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "team-a",
        "name": "data-x-demo-x-vc1",
    }
    host_claim = pvcs.to_host(
        {"metadata": {"name": "data", "namespace": "demo", "uid": "c"}, "spec": {}},
        owner=OWNER,
        **KW,
    )
    assert spec["claimRef"]["name"] == host_claim["metadata"]["name"]
    assert spec["storageClassName"] == "subkube-manual-x-team-a-x-vc1"
    assert spec["nfs"] == {"server": "10.0.0.5", "path": "/exports/a"}
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["capacity"] == {"storage": "10Gi"}


def test_a_host_class_and_no_class_pass_unchanged() -> None:
    for name in ("standard", ""):
        host = translate.to_host(volume(storageClassName=name), storage_classes={"fast"}, **KW)
        assert host["spec"]["storageClassName"] == name


def test_volumes_shown_for_bound_claims_are_not_the_tenants() -> None:
    assert translate.wanted(volume())
    shown = pvcs.virtual_volume(
        {"metadata": {"name": "data", "namespace": "demo", "uid": "c"}},
        {"spec": {"volumeName": "pvc-1"}, "status": {"phase": "Bound"}},
    )
    assert not translate.wanted(shown)
    unlabelled = {**shown, "metadata": {"name": "pvc-1", "labels": {}}}
    assert not translate.wanted(unlabelled)


def test_node_disks_are_refused_below_privileged() -> None:
    local = volume(local={"path": "/mnt/disk"}, nfs=None)
    host_path = volume(hostPath={"path": "/"})
    assert translate.refusal(host_path, "baseline") == "spec.hostPath: forbidden by baseline"
    assert translate.refusal(local, "restricted") == "spec.local: forbidden by restricted"
    assert translate.refusal(host_path, "privileged") is None
    assert translate.refusal(volume(), "restricted") is None


def test_a_volume_any_claim_could_bind_is_refused_below_privileged() -> None:
    unbound = volume(claimRef=None, storageClassName="standard")
    why = translate.refusal(unbound, "baseline")
    assert why is not None
    assert why.startswith("spec.claimRef: required by baseline")
    # Of the tenant's own class, only claims naming that class can bind it.
    assert translate.refusal(unbound, "baseline", storage_classes={"standard"}) is None
    assert translate.refusal(unbound, "privileged") is None


def test_secret_references_name_the_tenants_host_copies() -> None:
    v = volume(
        nfs=None,
        csi={
            "driver": "smb.csi.k8s.io",
            "volumeHandle": "share-1",
            "nodeStageSecretRef": {"name": "smb-creds", "namespace": "storage"},
        },
        cephfs={"monitors": ["10.0.0.9"], "secretRef": {"name": "ceph"}},
        azureFile={"shareName": "s", "secretName": "az", "secretNamespace": "storage"},
    )
    host = translate.to_host(v, **KW)["spec"]
    assert host["csi"]["nodeStageSecretRef"] == {
        "name": "smb-creds-x-storage-x-vc1",
        "namespace": "team-a",
    }
    assert host["azureFile"]["secretName"] == "az-x-storage-x-vc1"
    assert host["azureFile"]["secretNamespace"] == "team-a"
    assert v["spec"]["csi"]["nodeStageSecretRef"]["name"] == "smb-creds"
    assert translate.secret_references(v) == [("storage", "az"), ("storage", "smb-creds")]
    # Without a namespace the pod's would be used: on the host, the vcluster's own.
    assert translate.refusal(v, "baseline") == (
        "spec.cephfs.secretRef.namespace: required by baseline"
    )


def test_only_what_may_change_is_patched() -> None:
    desired = translate.to_host(volume(), **KW)
    actual = translate.to_host(volume(), **KW)
    # The host's PV controller filled in the uid as it bound the volume.
    actual["spec"]["claimRef"]["uid"] = "host-claim-uid"
    assert translate.host_spec_update(desired, actual) is None
    desired["spec"].update(
        persistentVolumeReclaimPolicy="Delete",
        mountOptions=["hard"],
        capacity={"storage": "20Gi"},
        nodeAffinity={"required": {"nodeSelectorTerms": []}},
        # Immutable inside as on the host: never part of a patch.
        nfs={"server": "10.0.0.6", "path": "/other"},
        volumeMode="Block",
    )
    assert translate.host_spec_update(desired, actual) == {
        "spec": {
            "persistentVolumeReclaimPolicy": "Delete",
            "mountOptions": ["hard"],
            "capacity": {"storage": "20Gi"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": []}},
        }
    }


def test_capacity_only_grows_and_claim_ref_is_set_once() -> None:
    desired = translate.to_host(volume(), **KW)
    actual = translate.to_host(volume(), **KW)
    # The host's resizer grew it when the claim was expanded.
    actual["spec"]["capacity"] = {"storage": "12Gi"}
    assert translate.host_spec_update(desired, actual) is None
    actual["spec"]["capacity"] = {"storage": "10000Mi"}
    assert translate.host_spec_update(desired, actual) == {
        "spec": {"capacity": {"storage": "10Gi"}}
    }
    unbound = translate.to_host(volume(claimRef=None), **KW)
    assert translate.host_spec_update(desired, unbound) == {
        "spec": {"claimRef": desired["spec"]["claimRef"]}
    }


def test_the_csi_expand_secret_may_be_added_later() -> None:
    csi = {"driver": "d", "volumeHandle": "h"}
    actual = translate.to_host(volume(nfs=None, csi=csi), **KW)
    ref = {"name": "exp", "namespace": "storage"}
    desired = translate.to_host(
        volume(nfs=None, csi={**csi, "controllerExpandSecretRef": ref}), **KW
    )
    assert translate.host_spec_update(desired, actual) == {
        "spec": {
            "csi": {
                "controllerExpandSecretRef": {"name": "exp-x-storage-x-vc1", "namespace": "team-a"}
            }
        }
    }


def test_phase_message_and_reason_come_back() -> None:
    v = volume()
    v["status"] = {"phase": "Pending", "lastPhaseTransitionTime": "2026-01-01T00:00:00Z"}
    h = {"status": {"phase": "Failed", "message": "recycle failed", "reason": "X"}}
    back = translate.status_to_virtual(v, h)
    assert back is not None
    assert back["status"] == {
        "phase": "Failed",
        "message": "recycle failed",
        "reason": "X",
        "lastPhaseTransitionTime": "2026-01-01T00:00:00Z",
    }
    assert translate.status_to_virtual(back, h) is None
    assert v["status"]["phase"] == "Pending"
    assert translate.status_to_virtual(back, {"status": {"phase": "Bound"}})["status"] == {
        "phase": "Bound",
        "lastPhaseTransitionTime": "2026-01-01T00:00:00Z",
    }


def test_the_claim_the_host_bound_is_named_by_its_virtual_name() -> None:
    vclaim = {"metadata": {"name": "data", "namespace": "demo", "uid": "virtual-claim-uid"}}
    hclaim = pvcs.to_host(vclaim, owner=OWNER, **KW)
    assert translate.claim_ref_to_virtual(hclaim, vcluster="vc1") == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "demo",
        "name": "data",
        "uid": "virtual-claim-uid",
    }
    # Another vcluster's claim in the same host namespace.
    assert translate.claim_ref_to_virtual(hclaim, vcluster="vc2") is None
    pending = pvcs.to_host(
        {"metadata": {**vclaim["metadata"], "uid": names.PENDING_UID}}, owner=OWNER, **KW
    )
    assert "uid" not in translate.claim_ref_to_virtual(pending, vcluster="vc1")
    assert translate.claim_ref_to_virtual({"metadata": {"name": "x"}}, vcluster="vc1") is None


_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z", fullmatch=True)
_names = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 253)


@given(_names, _label, _names)
def test_every_claim_ref_stays_in_the_vclusters_host_namespace(
    claim: str, namespace: str, pv: str
) -> None:
    v = volume()
    v["metadata"]["name"] = pv
    v["spec"]["claimRef"] = {"namespace": namespace, "name": claim, "uid": "u"}
    spec = translate.to_host(v, **KW)["spec"]
    assert spec["claimRef"] == {
        "namespace": "team-a",
        "name": names.host_name(claim, namespace, "vc1"),
    }
    assert names.is_dns_label(spec["claimRef"]["name"])
