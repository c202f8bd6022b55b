"""PersistentVolumeClaim virtual -> host, status host -> virtual (pure)."""

import copy
from typing import Any

from subkube.syncer import names

Obj = dict[str, Any]

# Bound and provisioned by the host; the virtual values mean nothing there.
_HOST_DECIDES = ("volumeName",)


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    spec = copy.deepcopy(vobj.get("spec") or {})
    for f in _HOST_DECIDES:
        spec.pop(f, None)
    namespace = vobj["metadata"]["namespace"]
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
    status = copy.deepcopy(hobj.get("status") or {})
    if status == (vobj.get("status") or {}):
        return None
    out = copy.deepcopy(vobj)
    out["status"] = status
    return out
