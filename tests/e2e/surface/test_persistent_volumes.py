"""sync.toHost.persistentVolumes: a volume the tenant makes inside reaches the host with its
claimRef naming the claim's host copy; the host binds the two and inside the claim is Bound
to the tenant's volume, by its name; a claim naming a tenant volume names its host copy; a
volume on the node's own disk is refused with a Warning event and never reaches the host."""

from typing import Any

import pytest

from subkube.syncer import names
from tests.conftest import wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e


def volume(name: str, claim: str, **source: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": claim},
            **(source or {"nfs": {"server": "nfs.example.internal", "path": f"/exports/{name}"}}),
        },
    }


def claim(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "storageClassName": "",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def bound(lab: Lab, claim_name: str) -> bool:
    phase = lab.v("get", "pvc", claim_name, "-o", "jsonpath={.status.phase}").stdout
    return phase == "Bound"


def test_a_volume_with_a_claim_ref_binds_its_claim_on_the_host_and_inside(lab: Lab) -> None:
    lab.apply(volume("tenant-pv", "static-data"))
    lab.apply(claim("static-data"))
    hvolume = wait_for("the host volume", lambda: lab.host_obj("pv", "tenant-pv"))
    host_claim_name = names.host_name("static-data", "default", VC)
    ref = hvolume["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"]) == (NS, host_claim_name)

    def host_bound() -> Any:
        hclaim = lab.host_obj("pvc", "static-data", "default")
        return hclaim if hclaim and hclaim["status"].get("phase") == "Bound" else None

    hclaim = wait_for("the host claim Bound", host_bound)
    assert hclaim["spec"]["volumeName"] == names.host_cluster_name("tenant-pv", NS, VC)

    wait_for("the claim Bound inside", lambda: bound(lab, "static-data"))
    assert lab.v_json("get", "pvc", "static-data")["spec"]["volumeName"] == "tenant-pv"

    def volume_bound() -> bool:
        phase = lab.v("get", "pv", "tenant-pv", "-o", "jsonpath={.status.phase}").stdout
        return phase == "Bound"

    wait_for("the volume Bound inside", volume_bound)
    shown = lab.v("get", "pv", "-o", "name").stdout.split()
    assert f"persistentvolume/{hvolume['metadata']['name']}" not in shown, (
        "no volume inside stands for the tenant's own"
    )


def test_a_claim_naming_a_tenant_volume_names_its_host_copy(lab: Lab) -> None:
    lab.apply(volume("named-pv", "named-data"))
    wait_for("the host volume", lambda: lab.host_obj("pv", "named-pv"))
    lab.apply(claim("named-data", volumeName="named-pv"))
    hclaim = wait_for("the host claim", lambda: lab.host_obj("pvc", "named-data", "default"))
    assert hclaim["spec"]["volumeName"] == names.host_cluster_name("named-pv", NS, VC)
    wait_for("the claim Bound inside", lambda: bound(lab, "named-data"))
    assert lab.v_json("get", "pvc", "named-data")["spec"]["volumeName"] == "named-pv"


def test_a_volume_on_the_nodes_disk_is_refused_and_never_reaches_the_host(lab: Lab) -> None:
    lab.apply(volume("node-disk", "disk-data", hostPath={"path": "/var/lib"}))

    def warning() -> Any:
        events = lab.v_json(
            "get", "events", "-n", "default", "--field-selector", "involvedObject.name=node-disk"
        )["items"]
        return events[0] if events else None

    event = wait_for("the Warning event", warning)
    assert (event["type"], event["reason"]) == ("Warning", "Forbidden")
    assert "spec.hostPath" in event["message"]
    assert event["involvedObject"]["kind"] == "PersistentVolume"
    inside = lab.v_json("get", "pv", "node-disk")
    assert inside["status"]["reason"] == "Forbidden"
    assert lab.host_obj("pv", "node-disk") is None
