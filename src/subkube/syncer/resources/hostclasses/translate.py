"""Host classes shown inside (sync.fromHost.{storageClasses, ingressClasses, priorityClasses,
runtimeClasses}): a read-only copy of each host object, marked as coming from the host."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names

Obj = dict[str, Any]

FROM_HOST_LABEL = f"{names.DOMAIN}/from-host"
# Kept from the host object's metadata; everything else in it is the host's bookkeeping.
_KEPT_METADATA = ("name", "labels", "annotations")
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def to_virtual(hobj: Obj) -> Obj:
    obj = {k: json_copy(v) for k, v in hobj.items() if k not in ("metadata", "status")}
    meta = {k: json_copy(hobj["metadata"][k]) for k in _KEPT_METADATA if k in hobj["metadata"]}
    meta["labels"] = {**(meta.get("labels") or {}), FROM_HOST_LABEL: "true"}
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in _DROPPED_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    obj["metadata"] = meta
    return obj


def from_host(vobj: Obj) -> bool:
    return (vobj.get("metadata", {}).get("labels") or {}).get(FROM_HOST_LABEL) == "true"


def differs(desired: Obj, actual: Obj) -> bool:
    """Whether the virtual copy no longer matches (fields the API server adds are ignored)."""
    for key, value in desired.items():
        if key == "metadata":
            for field in ("labels", "annotations"):
                if (value.get(field) or {}) != (actual["metadata"].get(field) or {}):
                    return True
        elif actual.get(key) != value:
            return True
    return any(
        k not in desired for k in actual if k not in ("metadata", "status", "apiVersion", "kind")
    )
