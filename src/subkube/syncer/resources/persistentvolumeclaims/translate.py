"""PersistentVolumeClaim virtual -> host, status host -> virtual (pure)."""

from collections.abc import Mapping, Set
from types import MappingProxyType
from typing import Any

from subkube.kube.copying import json_copy
from subkube.kube.resource import object_reference
from subkube.syncer import names
from subkube.syncer.resources.storageclasses.translate import claim_class

Obj = dict[str, Any]

_NO_CLASSES: Mapping[str, str] = MappingProxyType({})


def to_host(
    vobj: Obj,
    *,
    vcluster: str,
    host_namespace: str,
    owner: Obj | None,
    storage_classes: Set[str] = frozenset(),
    volumes: Set[str] = frozenset(),
) -> Obj:
    """STORAGE_CLASSES: the tenant's classes copied to the host, whose host names the claim
    must use (none by default: class names pass unchanged). VOLUMES: the tenant's volumes
    copied to the host; a volumeName naming one becomes its host name. Any other volumeName
    goes: the host binds and provisions, and no raw name may reach a host volume."""
    spec = json_copy(vobj.get("spec") or {})
    volume = spec.pop("volumeName", None)
    if volume in volumes:
        spec["volumeName"] = names.host_cluster_name(volume, host_namespace, vcluster)
    namespace = vobj["metadata"]["namespace"]
    if spec.get("storageClassName"):
        spec["storageClassName"] = claim_class(
            spec["storageClassName"],
            synced=storage_classes,
            vcluster=vcluster,
            host_namespace=host_namespace,
        )
    for f in ("dataSource", "dataSourceRef"):
        source = spec.get(f)
        if source and source.get("kind") == "PersistentVolumeClaim" and not source.get("apiGroup"):
            source["name"] = names.host_name(source["name"], namespace, vcluster)
    if (selector := spec.get("selector")) and (ml := selector.get("matchLabels")):
        selector["matchLabels"] = {names.host_label_key(k, vcluster): v for k, v in ml.items()}
    meta = names.host_metadata(
        vobj,
        kind="PersistentVolumeClaim",
        vcluster=vcluster,
        host_namespace=host_namespace,
        owner=owner,
    )
    # The host's own PV controller annotates claims as it binds them.
    for key in (
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
        "volume.beta.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/storage-provisioner",
    ):
        meta["annotations"].pop(key, None)
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """After creation only the requested size may grow (volume expansion)."""
    want = desired.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
    have = actual.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
    if want and want != have:
        return {"spec": {"resources": {"requests": {"storage": want}}}}
    return None


def status_to_virtual(vobj: Obj, hobj: Obj) -> Obj | None:
    status = json_copy(hobj.get("status") or {})
    if status == (vobj.get("status") or {}):
        return None
    out = json_copy(vobj)
    out["status"] = status
    return out


# Virtual volumes stand for host volumes the tenant's claims are bound to.
VOLUME_LABEL = f"{names.DOMAIN}/host-volume"
# The source of a virtual volume: nothing inside mounts it, and the host's real source
# (paths, secrets of its driver) is not the tenant's to see.
VOLUME_DRIVER = "host-volume.subkube.io"


def bound_volume(hobj: Obj) -> str:
    """The host volume a host claim is bound to, or ''."""
    if (hobj.get("status") or {}).get("phase") != "Bound":
        return ""
    return str((hobj.get("spec") or {}).get("volumeName") or "")


def virtual_volume(vobj: Obj, hobj: Obj, *, classes: Mapping[str, str] = _NO_CLASSES) -> Obj:
    """The volume inside that a bound virtual claim names: the host volume's size, access
    modes, mode and class, as the host claim reports them. CLASSES maps the host names of
    the tenant's classes back to their names inside (storageclasses.virtual_class_names)."""
    hspec, hstatus = hobj.get("spec") or {}, hobj.get("status") or {}
    spec: Obj = {
        "capacity": hstatus.get("capacity") or (hspec.get("resources") or {}).get("requests"),
        "accessModes": hstatus.get("accessModes") or hspec.get("accessModes"),
        "persistentVolumeReclaimPolicy": "Delete",
        "volumeMode": hspec.get("volumeMode", "Filesystem"),
        "claimRef": object_reference(vobj, "PersistentVolumeClaim"),
        "csi": {"driver": VOLUME_DRIVER, "volumeHandle": bound_volume(hobj)},
    }
    if hclass := hspec.get("storageClassName"):
        spec["storageClassName"] = classes.get(hclass, hclass)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": bound_volume(hobj), "labels": {VOLUME_LABEL: "true"}},
        "spec": spec,
    }


def claim_binding(vobj: Obj, hobj: Obj, *, tenant_volume: str = "") -> Obj | None:
    """Merge patch binding the virtual claim to its volume, with the class the host chose
    when the tenant named none; None when it already is. TENANT_VOLUME: the name inside of
    the tenant's own volume whose host copy the host claim is bound to, named instead."""
    vspec, hspec = vobj.get("spec") or {}, hobj.get("spec") or {}
    patch: Obj = {}
    volume = tenant_volume or bound_volume(hobj)
    if not vspec.get("volumeName") and volume:
        patch["volumeName"] = volume
    if not vspec.get("storageClassName") and hspec.get("storageClassName"):
        patch["storageClassName"] = hspec["storageClassName"]
    return {"spec": patch} if patch else None


def is_volume_of(volume: Obj, namespace: str, name: str) -> bool:
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    labels = volume.get("metadata", {}).get("labels") or {}
    return (
        labels.get(VOLUME_LABEL) == "true"
        and ref.get("namespace") == namespace
        and ref.get("name") == name
    )
