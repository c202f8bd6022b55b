"""The StorageClasses kind on an in-memory API: cluster-scoped host copies made, patched,
replaced when an immutable field changes and deleted; a class naming Secrets it may not
refused with one Warning event; the Secrets a class names synced; claims naming the tenant's
class by its host name, even one the informer has not brought yet; the volume shown for a
bound claim naming the class as the tenant does."""

from subkube.kube.resource import PVCS, PVS, SECRETS, STORAGECLASSES
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.resources.persistentvolumeclaims.kind import PersistentVolumeClaims
from subkube.syncer.resources.secrets.kind import Secrets
from subkube.syncer.resources.storageclasses import translate
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

rig = rig_fixture({"toHost": {"storageClasses": {"enabled": True}}})


def storage_class(name: str, **extra: object) -> Obj:
    return {"metadata": {"name": name}, "provisioner": "csi.example.com", **extra}


def claim(name: str, storage_class: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


async def bind(rig: Rig, hclaim: Obj, volume: str) -> None:
    """What the host's PV controller does to a claim it binds."""
    name = hclaim["metadata"]["name"]
    await rig.host.patch(PVCS, name, {"spec": {"volumeName": volume}}, HOST_NS)
    status = {"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
    await rig.host.patch(PVCS, name, status, HOST_NS, subresource="status")


async def test_copies_follow_the_tenants_classes(rig: Rig) -> None:
    await rig.start(StorageClasses)
    default = {"storageclass.kubernetes.io/is-default-class": "true"}
    fast = storage_class("fast", parameters={"tier": "1"})
    fast["metadata"]["annotations"] = default
    await rig.virtual.create(STORAGECLASSES, fast)
    copy = await eventually(lambda: rig.host_copy(STORAGECLASSES, "fast"), "the host copy")
    assert copy["provisioner"] == "csi.example.com"
    assert "storageclass.kubernetes.io/is-default-class" not in copy["metadata"]["annotations"]

    await rig.virtual.patch(STORAGECLASSES, "fast", {"allowVolumeExpansion": True})

    async def expandable() -> Obj | None:
        c = await rig.host_copy(STORAGECLASSES, "fast")
        return c if c and c.get("allowVolumeExpansion") else None

    patched = await eventually(expandable, "expansion allowed on the host")
    assert patched["metadata"]["uid"] == copy["metadata"]["uid"]

    # Parameters cannot change in place on a real API server: the copy is made anew.
    await rig.virtual.patch(STORAGECLASSES, "fast", {"parameters": {"tier": "2"}})

    async def replaced() -> Obj | None:
        c = await rig.host_copy(STORAGECLASSES, "fast")
        return c if c and c["metadata"]["uid"] != copy["metadata"]["uid"] else None

    assert (await eventually(replaced, "the copy replaced"))["parameters"] == {"tier": "2"}

    await rig.virtual.delete(STORAGECLASSES, "fast")

    async def gone() -> bool:
        return await rig.host_copy(STORAGECLASSES, "fast") is None

    await eventually(gone, "the copy deleted")


async def test_another_vclusters_copy_is_never_touched(rig: Rig) -> None:
    theirs = translate.to_host(
        {"metadata": {"name": "fast", "uid": "their-uid"}, "provisioner": "x"},
        vcluster=VC,
        host_namespace=OTHER_NS,
    )
    theirs = await rig.host.create(STORAGECLASSES, theirs)
    await rig.start(StorageClasses)
    await rig.virtual.create(STORAGECLASSES, storage_class("fast"))
    await eventually(lambda: rig.host_copy(STORAGECLASSES, "fast"), "our copy")
    await rig.virtual.delete(STORAGECLASSES, "fast")

    async def gone() -> bool:
        return await rig.host_copy(STORAGECLASSES, "fast") is None

    await eventually(gone, "our copy deleted")
    now = await rig.host.get(STORAGECLASSES, host_cluster_name("fast", OTHER_NS))
    assert now["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]


async def test_a_class_that_could_name_any_secret_is_refused_once(rig: Rig) -> None:
    (kind,) = await rig.start(StorageClasses)
    templated = storage_class(
        "sneaky",
        parameters={
            "csi.storage.k8s.io/node-publish-secret-name": "${pvc.annotations['secret']}",
            "csi.storage.k8s.io/node-publish-secret-namespace": "${pvc.namespace}",
        },
    )
    await rig.virtual.create(STORAGECLASSES, templated)
    (event,) = await eventually(lambda: rig.warnings("sneaky"), "the Warning event")
    assert event["reason"] == "Forbidden"
    assert event["involvedObject"]["kind"] == "StorageClass"
    assert "node-publish-secret-name" in event["message"]
    # Looked at again (a resync): told once.
    kind.enqueue(("", "sneaky"))
    await rig.idle()
    assert len(await rig.warnings("sneaky")) == 1
    assert await rig.host_copy(STORAGECLASSES, "sneaky") is None


async def test_the_secrets_a_class_names_are_synced(rig: Rig) -> None:
    await rig.virtual.create(
        SECRETS, {"metadata": {"name": "creds", "namespace": "storage"}, "data": {"k": "dg=="}}
    )
    await rig.virtual.create(SECRETS, {"metadata": {"name": "unused", "namespace": "storage"}})
    await rig.start(StorageClasses, Secrets)
    await rig.virtual.create(
        STORAGECLASSES,
        storage_class(
            "secured",
            parameters={
                "csi.storage.k8s.io/provisioner-secret-name": "creds",
                "csi.storage.k8s.io/provisioner-secret-namespace": "storage",
            },
        ),
    )
    copy = await eventually(lambda: rig.host_copy(STORAGECLASSES, "secured"), "the class copy")
    secret = names.host_name("creds", "storage", VC)
    assert copy["parameters"]["csi.storage.k8s.io/provisioner-secret-name"] == secret
    assert copy["parameters"]["csi.storage.k8s.io/provisioner-secret-namespace"] == HOST_NS
    await eventually(lambda: rig.host_copy(SECRETS, "creds", "storage"), "the Secret copy")
    await rig.idle()
    assert await rig.host_copy(SECRETS, "unused", "storage") is None


async def test_claims_name_the_tenants_classes_by_their_host_names(rig: Rig) -> None:
    await rig.virtual.create(STORAGECLASSES, storage_class("fast"))
    await rig.start(StorageClasses, PersistentVolumeClaims)
    await rig.virtual.create(PVCS, claim("data", "fast"))
    await rig.virtual.create(PVCS, claim("other", "standard"))
    hclaim = await eventually(lambda: rig.host_copy(PVCS, "data"), "the host claim")
    assert hclaim["spec"]["storageClassName"] == host_cluster_name("fast")
    other = await eventually(lambda: rig.host_copy(PVCS, "other"), "the other host claim")
    assert other["spec"]["storageClassName"] == "standard", "a host class stays the host's"

    # The host binds the claim: the volume shown inside names the class as the tenant does.
    await bind(rig, hclaim, "pvc-1")
    shown = await eventually(lambda: rig.virtual.get_or_none(PVS, "pvc-1"), "the shown volume")
    assert shown["spec"]["storageClassName"] == "fast"
    vclaim = await rig.virtual.get(PVCS, "data", NS)
    assert vclaim["spec"]["storageClassName"] == "fast"
    assert vclaim["spec"]["volumeName"] == "pvc-1"


async def test_a_claim_ahead_of_its_class_still_names_the_host_copy(rig: Rig) -> None:
    """The claim's watch may bring it before the class's watch brings the class; the host
    claim's class can never change later, so the API server is asked."""
    kind = PersistentVolumeClaims(rig.ctx)
    kind.watch()  # informers made, never started: they know of no class
    await rig.virtual.create(STORAGECLASSES, storage_class("fast"))
    vclaim = claim("data", "fast")
    desired = kind.to_host(vclaim)
    assert desired["spec"]["storageClassName"] == "fast"
    prepared = await kind.prepare(vclaim, desired)
    assert prepared["spec"]["storageClassName"] == host_cluster_name("fast")
    other = claim("other", "standard")
    assert (await kind.prepare(other, kind.to_host(other)))["spec"]["storageClassName"] == (
        "standard"
    )
