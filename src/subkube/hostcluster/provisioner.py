"""The local host's storage: a default StorageClass whose claims get directories on this machine.

What kind and minikube ship as local-path provisioners: a claim of class `standard`, or of
any class naming this provisioner (a vcluster's own classes on the host), gets a
PersistentVolume backed by a directory under the host's data dir; the host's PV controller
binds the two, and when the claim goes (reclaim policy Delete) the directory and the volume go.
The local pod runtime mounts that directory into the pods it runs.
"""

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from subkube.kube.controller import Controller
from subkube.kube.informer import Informer
from subkube.kube.resource import PVCS, PVS, STORAGECLASSES, key_of, object_reference
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.log import kv

log = logging.getLogger("subkube.host.storage")

PROVISIONER = "subkube.io/local-path"
CLASS_NAME = "standard"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
# Set by the PV controller on claims it hands to an external provisioner.
PROVISIONER_ANNOTATIONS = (
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)


def storage_class() -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def volume_name(claim: Obj) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def wants_volume(claim: Obj) -> bool:
    annotations = claim["metadata"].get("annotations") or {}
    return (
        not claim.get("spec", {}).get("volumeName")
        and claim.get("status", {}).get("phase", "Pending") == "Pending"
        and "deletionTimestamp" not in claim["metadata"]
        and any(annotations.get(a) == PROVISIONER for a in PROVISIONER_ANNOTATIONS)
    )


def volume_for(claim: Obj, path: Path) -> Obj:
    spec = claim.get("spec", {})
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume_name(claim),
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {
                "storage": spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
            },
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec.get("storageClassName") or CLASS_NAME,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
            "claimRef": object_reference(claim, "PersistentVolumeClaim"),
        },
    }


def ours_and_released(volume: Obj) -> bool:
    annotations = volume["metadata"].get("annotations") or {}
    return (
        annotations.get("pv.kubernetes.io/provisioned-by") == PROVISIONER
        and volume.get("status", {}).get("phase") in ("Released", "Failed")
        and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
    )


class Provisioner:
    def __init__(self, kube: Kube, volumes_dir: Path) -> None:
        self.kube = kube
        self.volumes_dir = volumes_dir
        self.claims = Informer(kube, PVCS, name="provisioner-claims")
        self.volumes = Informer(kube, PVS, name="provisioner-volumes")
        self.controller: Controller[tuple[str, str, str]] = Controller(
            "provisioner", self._reconcile, workers=2
        )

    async def start(self) -> None:
        current = await self.kube.get_or_none(STORAGECLASSES, CLASS_NAME)
        if current is None:
            with contextlib.suppress(ApiError):
                await self.kube.create(STORAGECLASSES, storage_class())
        self.claims.add_handler(lambda _e, o: self.controller.add(("claim", *key_of(o))))
        self.volumes.add_handler(lambda _e, o: self.controller.add(("volume", *key_of(o))))
        self.claims.start()
        self.volumes.start()
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()
        await self.claims.stop()
        await self.volumes.stop()

    async def _reconcile(self, key: tuple[str, str, str]) -> None:
        what, namespace, name = key
        if what == "claim":
            claim = self.claims.get(namespace, name)
            if claim is not None and wants_volume(claim):
                path = self.volumes_dir / volume_name(claim)
                path.mkdir(parents=True, exist_ok=True)
                try:
                    await self.kube.create(PVS, volume_for(claim, path))
                    log.info("provisioned", extra=kv(claim=f"{namespace}/{name}", path=path))
                except ApiError as exc:
                    if not exc.already_exists:
                        raise
            return
        volume = self.volumes.get("", name)
        if volume is not None and ours_and_released(volume):
            host_path = Path(volume["spec"].get("hostPath", {}).get("path", ""))
            # Only ever remove what this provisioner made, whatever the object says.
            if host_path.parent == self.volumes_dir:
                await asyncio.to_thread(shutil.rmtree, host_path, True)
            await self.kube.delete(PVS, name, uid=volume["metadata"]["uid"])
            log.info("volume deleted", extra=kv(volume=name))
