"""The PersistentVolumes kind on an in-memory API: cluster-scoped host copies whose claimRef
names the claim's host copy; a claim bound to the tenant's volume naming it inside by its
own name, with no volume shown for it; the claim the host bound a volume to coming back; a
volume on the node's disk refused with one Warning event; the Secrets a volume names
synced; another vcluster's copies never touched."""

from subkube.kube.resource import PVCS, PVS, SECRETS, STORAGECLASSES
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.resources.persistentvolumeclaims.kind import PersistentVolumeClaims
from subkube.syncer.resources.persistentvolumeclaims.translate import VOLUME_LABEL
from subkube.syncer.resources.persistentvolumes import translate
from subkube.syncer.resources.persistentvolumes.kind import PersistentVolumes
from subkube.syncer.resources.secrets.kind import Secrets
from subkube.syncer.resources.storageclasses.kind import StorageClasses
from tests.unit.rig import (
    HOST_NS,
    NS,
    OTHER_NS,
    VC,
    Rig,
    eventually,
    host_cluster_name,
    rig_fixture,
)

rig = rig_fixture(
    {"toHost": {"persistentVolumes": {"enabled": True}, "storageClasses": {"enabled": True}}}
)


def volume(name: str, claim: str | None = None, **spec: object) -> Obj:
    body: Obj = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain",
        "csi": {"driver": "csi.example.com", "volumeHandle": name},
        **spec,
    }
    if claim:
        body["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": NS, "name": claim}
    return {"metadata": {"name": name}, "spec": body}


def claim(name: str, **spec: object) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "storageClassName": "",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


async def bind(rig: Rig, hclaim: Obj, hvolume: Obj) -> None:
    """What the host's PV controller does to a claim and a volume it binds."""
    cname, vname = hclaim["metadata"]["name"], hvolume["metadata"]["name"]
    ref = {
        "kind": "PersistentVolumeClaim",
        "namespace": HOST_NS,
        "name": cname,
        "uid": hclaim["metadata"]["uid"],
    }
    await rig.host.patch(PVS, vname, {"spec": {"claimRef": ref}})
    await rig.host.patch(PVS, vname, {"status": {"phase": "Bound"}}, subresource="status")
    await rig.host.patch(PVCS, cname, {"spec": {"volumeName": vname}}, HOST_NS)
    bound = {"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
    await rig.host.patch(PVCS, cname, bound, HOST_NS, subresource="status")


async def test_a_claim_bound_to_the_tenants_volume_names_it_inside(rig: Rig) -> None:
    await rig.start(PersistentVolumes, PersistentVolumeClaims)
    await rig.virtual.create(PVCS, claim("data"))
    await rig.virtual.create(PVS, volume("pv-a", claim="data"))
    hvolume = await eventually(lambda: rig.host_copy(PVS, "pv-a"), "the host volume")
    assert hvolume["spec"]["claimRef"] == {
        "kind": "PersistentVolumeClaim",
        "namespace": HOST_NS,
        "name": names.host_name("data", NS, VC),
    }
    hclaim = await eventually(lambda: rig.host_copy(PVCS, "data"), "the host claim")
    assert "volumeName" not in hclaim["spec"], "the host binds by the volume's claimRef"
    await bind(rig, hclaim, hvolume)

    async def bound() -> Obj | None:
        c = await rig.virtual.get(PVCS, "data", NS)
        return c if c.get("status", {}).get("phase") == "Bound" else None

    vclaim = await eventually(bound, "the claim Bound inside")
    assert vclaim["spec"]["volumeName"] == "pv-a"

    async def volume_bound() -> Obj | None:
        v = await rig.virtual.get(PVS, "pv-a")
        return v if v.get("status", {}).get("phase") == "Bound" else None

    await eventually(volume_bound, "the volume Bound inside")
    await rig.idle()
    shown = (await rig.virtual.list(PVS, label_selector=f"{VOLUME_LABEL}=true"))["items"]
    assert shown == [], "no volume stands for the tenant's own"


async def test_a_claim_naming_the_tenants_volume_names_its_host_copy(rig: Rig) -> None:
    await rig.virtual.create(PVS, volume("pv-b", claim="named"))
    await rig.start(PersistentVolumes, PersistentVolumeClaims)
    await rig.virtual.create(PVCS, claim("named", volumeName="pv-b"))
    await rig.virtual.create(PVCS, claim("raw", volumeName="some-host-volume"))
    hclaim = await eventually(lambda: rig.host_copy(PVCS, "named"), "the host claim")
    assert hclaim["spec"]["volumeName"] == host_cluster_name("pv-b")
    raw = await eventually(lambda: rig.host_copy(PVCS, "raw"), "the other host claim")
    assert "volumeName" not in raw["spec"], "no raw name reaches a host volume"


async def test_the_claim_the_host_bound_a_volume_to_comes_back(rig: Rig) -> None:
    await rig.virtual.create(STORAGECLASSES, {"metadata": {"name": "mine"}, "provisioner": "x"})
    await rig.start(StorageClasses, PersistentVolumes, PersistentVolumeClaims)
    # No claimRef: allowed because only claims of the tenant's own class can bind it.
    await rig.virtual.create(PVS, volume("pv-c", storageClassName="mine"))
    made = await rig.virtual.create(PVCS, claim("data", storageClassName="mine"))
    hvolume = await eventually(lambda: rig.host_copy(PVS, "pv-c"), "the host volume")
    assert hvolume["spec"]["storageClassName"] == host_cluster_name("mine")
    hclaim = await eventually(lambda: rig.host_copy(PVCS, "data"), "the host claim")
    await bind(rig, hclaim, hvolume)

    async def claimed() -> Obj | None:
        v = await rig.virtual.get(PVS, "pv-c")
        return v if v["spec"].get("claimRef") else None

    ref = (await eventually(claimed, "the claimRef inside"))["spec"]["claimRef"]
    assert ref == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": NS,
        "name": "data",
        "uid": made["metadata"]["uid"],
    }


async def test_a_volume_on_the_nodes_disk_is_refused_once(rig: Rig) -> None:
    (kind,) = await rig.start(PersistentVolumes)
    spec = volume("disk", claim="data")["spec"]
    del spec["csi"]
    spec["hostPath"] = {"path": "/etc"}
    await rig.virtual.create(PVS, {"metadata": {"name": "disk"}, "spec": spec})
    (event,) = await eventually(lambda: rig.warnings("disk"), "the Warning event")
    assert event["reason"] == "Forbidden"
    assert event["involvedObject"]["kind"] == "PersistentVolume"
    assert "spec.hostPath" in event["message"]
    status = (await rig.virtual.get(PVS, "disk"))["status"]
    assert (status["reason"], status["message"]) == ("Forbidden", event["message"])
    kind.enqueue(("", "disk"))
    await rig.idle()
    assert len(await rig.warnings("disk")) == 1
    assert await rig.host_copy(PVS, "disk") is None


async def test_the_secrets_a_volume_names_are_synced(rig: Rig) -> None:
    await rig.virtual.create(SECRETS, {"metadata": {"name": "creds", "namespace": "storage"}})
    await rig.start(PersistentVolumes, Secrets)
    pv = volume("pv-s", claim="data")
    pv["spec"]["csi"]["nodePublishSecretRef"] = {"name": "creds", "namespace": "storage"}
    await rig.virtual.create(PVS, pv)
    hvolume = await eventually(lambda: rig.host_copy(PVS, "pv-s"), "the host volume")
    secret = names.host_name("creds", "storage", VC)
    assert hvolume["spec"]["csi"]["nodePublishSecretRef"] == {"name": secret, "namespace": HOST_NS}
    await eventually(lambda: rig.host_copy(SECRETS, "creds", "storage"), "the Secret copy")


async def test_another_vclusters_copy_is_never_touched(rig: Rig) -> None:
    theirs = translate.to_host(
        {"metadata": {"name": "pv-a", "uid": "their-uid"}, "spec": volume("pv-a")["spec"]},
        vcluster=VC,
        host_namespace=OTHER_NS,
    )
    theirs = await rig.host.create(PVS, theirs)
    await rig.start(PersistentVolumes)
    await rig.virtual.create(PVS, volume("pv-a", claim="data"))
    await eventually(lambda: rig.host_copy(PVS, "pv-a"), "our copy")
    await rig.virtual.delete(PVS, "pv-a")

    async def gone() -> bool:
        return await rig.host_copy(PVS, "pv-a") is None

    await eventually(gone, "our copy deleted")
    now = await rig.host.get(PVS, host_cluster_name("pv-a", OTHER_NS))
    assert now["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]


async def test_a_claim_ahead_of_its_volume_still_names_the_host_copy(rig: Rig) -> None:
    """The claim's watch may bring it before the volume's; the host claim's volumeName can
    never be set later, so the API server is asked."""
    kind = PersistentVolumeClaims(rig.ctx)
    kind.watch()  # informers made, never started: they know of no volume
    await rig.virtual.create(PVS, volume("pv-late", claim="data"))
    vclaim = claim("data", volumeName="pv-late")
    desired = kind.to_host(vclaim)
    assert "volumeName" not in desired["spec"]
    prepared = await kind.prepare(vclaim, desired)
    assert prepared["spec"]["volumeName"] == host_cluster_name("pv-late")
