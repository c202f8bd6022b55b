"""What every cluster-scoped kind copied to the host shares (pure): the host copy's metadata,
the test that a host object is this vcluster's, and the answer "patch it or replace it".

A cluster-scoped host object has no namespace to live in and no owner to be collected with:
nothing garbage-collects it when the vcluster goes, and every vcluster on the host sees it.
So its name carries the vcluster's host namespace (`names.host_cluster_name`), and so does a
label, which lets whoever deletes the vcluster find them all with one label selector.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from subkube.syncer import names

Obj = dict[str, Any]

# Two vclusters of the same name in different host namespaces both write managed-by=<name>;
# this label tells their cluster-scoped objects apart.
LABEL_HOST_NAMESPACE = f"{names.DOMAIN}/host-namespace"


def cluster_metadata(vobj: Obj, *, kind: str, vcluster: str, host_namespace: str) -> Obj:
    """metadata of the host copy of a cluster-scoped virtual object: the prefixed name, our
    labels and the annotations recording the virtual name, uid and kind (the recorded
    namespace is empty, as the object has none); no ownerReference, since a cluster-scoped
    object cannot be owned by the namespaced Service that owns everything else."""
    # host_metadata already filters the user's annotations and records the virtual object;
    # only what it derives from a namespace is wrong here.
    meta = names.host_metadata(
        vobj, kind=kind, vcluster=vcluster, host_namespace=host_namespace, owner=None
    )
    del meta["namespace"]
    meta["name"] = names.host_cluster_name(vobj["metadata"]["name"], host_namespace, vcluster)
    meta["labels"][LABEL_HOST_NAMESPACE] = host_namespace
    return meta


def selector(*, vcluster: str, host_namespace: str) -> str:
    """The label selector of one vcluster's cluster-scoped host objects."""
    return f"{names.LABEL_MANAGED_BY}={vcluster},{LABEL_HOST_NAMESPACE}={host_namespace}"


def is_ours(hobj: Obj, *, vcluster: str, host_namespace: str) -> bool:
    """names.is_ours, plus what it cannot check without a namespace: the host namespace and
    the name the recorded virtual name must have (another vcluster's object fails both)."""
    if not names.is_ours(hobj, vcluster=vcluster):
        return False
    meta = hobj["metadata"]
    annotations = meta.get("annotations") or {}
    if annotations.get(names.ANNOTATION_NAMESPACE):
        return False
    if (meta.get("labels") or {}).get(LABEL_HOST_NAMESPACE) != host_namespace:
        return False
    return meta.get("name") == names.host_cluster_name(
        annotations[names.ANNOTATION_NAME], host_namespace, vcluster
    )


@dataclass(frozen=True)
class Replace:
    """The host object must be deleted and created anew: FIELDS differ from what is wanted
    and the host API server refuses to change them in place."""

    fields: tuple[str, ...]


# What a kind's host_spec_update returns: None when the host object matches, a JSON merge
# patch of its top-level fields when they can be changed in place, or Replace. Labels and
# annotations are not part of it: the engine merges them three-way for every kind
# (merge.merged_metadata), and they never force a replacement.
HostUpdate = Replace | Obj | None


def value_or_default(obj: Obj, field: str, default: Any) -> Any:
    """OBJ's FIELD, or DEFAULT when it is unset: the API server omits empty fields and fills
    in defaults, so only this comparison tells a real difference from a spelling one."""
    value = obj.get(field)
    return default if value is None else value


def replace_or_patch(
    desired: Obj, actual: Obj, *, immutable: Mapping[str, Any], mutable: Mapping[str, Any]
) -> HostUpdate:
    """The HostUpdate turning ACTUAL into DESIRED, for kinds whose fields sit at the top
    level. IMMUTABLE and MUTABLE map each field to the value an unset field stands for, so
    that no spelling difference causes a patch, or a replacement, on every sync."""

    def differs(field: str, default: Any) -> bool:
        return value_or_default(desired, field, default) != value_or_default(actual, field, default)

    changed = tuple(f for f, default in immutable.items() if differs(f, default))
    if changed:
        return Replace(changed)
    patch = {f: desired.get(f) for f, default in mutable.items() if differs(f, default)}
    return patch or None
