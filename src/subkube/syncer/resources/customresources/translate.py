"""Custom resources, both directions (pure): sync.toHost.customResources and
sync.fromHost.customResources.

What a custom resource holds only its operator knows, so nothing inside it is rewritten:
the host copy of a tenant object is the object (spec and every other top-level field) under
our metadata, its status comes back whole; the copy inside of a host object is the host
object under the host's labels, status included. The definition comes from the host, where
the operator runs, and is copied inside.
"""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.kube.resource import Resource, label_selector
from subkube.syncer import merge, names
from subkube.syncer.resources.hostclasses import translate as hostclasses

Obj = dict[str, Any]

FROM_HOST_LABEL = hostclasses.FROM_HOST_LABEL
# Top-level fields that are not the object's content: the API server's, ours, the operator's.
_NOT_CONTENT = frozenset(("apiVersion", "kind", "metadata", "status"))


# --- the definition ------------------------------------------------------------------------


def served_version(crd: Obj) -> str | None:
    """The version the syncer reads and writes: the storage version if served (no conversion
    on either side), else the first served one."""
    served = [v for v in crd["spec"].get("versions") or [] if v.get("served")]
    stored = [v for v in served if v.get("storage")]
    chosen = (stored or served)[:1]
    return chosen[0]["name"] if chosen else None


def resource_of(crd: Obj, version: str) -> Resource:
    spec = crd["spec"]
    return Resource(
        spec["group"],
        version,
        spec["names"]["plural"],
        spec["names"]["kind"],
        namespaced=spec.get("scope") == "Namespaced",
    )


def has_status(crd: Obj, version: str) -> bool:
    """Whether VERSION has the status subresource (else status is written with the object)."""
    for v in crd["spec"].get("versions") or []:
        if v["name"] == version:
            return (v.get("subresources") or {}).get("status") is not None
    return False


def definition_problem(crd: Obj | None, *, name: str, direction: str, scope: str) -> str | None:
    """Why the host's definition NAME cannot serve a custom resource configured in DIRECTION
    with SCOPE, as the rest of a one-line error; None when it can."""
    if crd is None:
        return (
            f"the host has no CustomResourceDefinition {name}; install it (with the operator "
            "that acts on it) on the host first, or remove the entry"
        )
    actual = crd["spec"].get("scope", "Namespaced")
    if actual != scope:
        if direction == "toHost":
            return (
                f"the host's CustomResourceDefinition {name} is {actual}-scoped; only "
                "namespaced custom resources sync to the host"
            )
        return f"the host's CustomResourceDefinition {name} is {actual}-scoped; set scope: {actual}"
    if served_version(crd) is None:
        return f"the host's CustomResourceDefinition {name} serves no version"
    return None


def virtual_definition(crd: Obj) -> Obj:
    """The definition inside: the host's, versions (served, storage, schema, subresources)
    and all, marked as coming from the host."""
    out = hostclasses.to_virtual(crd)
    # A conversion webhook on the host is out of reach of the virtual API server; inside,
    # versions convert by apiVersion alone (the syncer reads and writes one version anyway).
    out["spec"].pop("conversion", None)
    return out


def established(crd: Obj) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


# --- to host -------------------------------------------------------------------------------


def to_host(vobj: Obj, *, kind: str, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    out = {k: json_copy(v) for k, v in vobj.items() if k not in ("metadata", "status")}
    out["metadata"] = names.host_metadata(
        vobj, kind=kind, vcluster=vcluster, host_namespace=host_namespace, owner=owner
    )
    return out


def _content_patch(desired: Obj, actual: Obj, fields: frozenset[str]) -> Obj:
    return {
        key: merge.merge_patch(actual.get(key), desired.get(key))
        for key in sorted((desired.keys() | actual.keys()) - fields)
        if desired.get(key) != actual.get(key)
    }


def host_update(desired: Obj, actual: Obj) -> Obj | None:
    """The merge patch bringing the host copy's content back to the tenant's (a field the
    tenant removed is removed), None when it matches. Metadata is merged by the engine."""
    return _content_patch(desired, actual, _NOT_CONTENT) or None


def status_update(vobj: Obj, hobj: Obj) -> Obj | None:
    """The host copy's status, to be the tenant object's (None: it already is)."""
    status = hobj.get("status") or {}
    if status == (vobj.get("status") or {}):
        return None
    return {"status": json_copy(status)}


# --- from host -----------------------------------------------------------------------------


def host_selector(labels: dict[str, str]) -> str:
    """The host objects a tenant sees: those with all LABELS, and never a vcluster's copy
    (which would show one tenant's objects to another)."""
    terms = [label_selector(labels)] if labels else []
    return ",".join([*terms, f"!{names.LABEL_MANAGED_BY}"])


def to_virtual(hobj: Obj, *, namespace: str | None) -> Obj:
    """The copy inside of a host object: its content and status under its name, in NAMESPACE
    (None: cluster-scoped), with the host's labels and annotations."""
    out = hostclasses.to_virtual(hobj)
    if namespace:
        out["metadata"]["namespace"] = namespace
    if "status" in hobj:
        out["status"] = json_copy(hobj["status"])
    return out


def is_copy(vobj: Obj) -> bool:
    return hostclasses.from_host(vobj)


def copy_patch(desired: Obj, actual: Obj, *, with_status: bool) -> Obj | None:
    """The merge patch bringing a copy inside back to DESIRED: content, labels and
    annotations, and the status too WITH_STATUS (no status subresource); None when it
    matches."""
    ignored = _NOT_CONTENT - {"status"} if with_status else _NOT_CONTENT
    patch = _content_patch(desired, actual, ignored)
    for field in ("labels", "annotations"):
        want = desired["metadata"].get(field) or {}
        have = actual["metadata"].get(field) or {}
        if want != have:
            patch.setdefault("metadata", {})[field] = merge.merge_patch(have, want)
    return patch or None


def status_patch(desired: Obj, actual: Obj) -> Obj | None:
    """The merge patch of the copy's status (through the status subresource), or None."""
    want, have = desired.get("status") or {}, actual.get("status") or {}
    return merge.merge_patch(have, want) if want != have else None
