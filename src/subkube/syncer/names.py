"""Virtual -> host names, labels and annotations (pure functions).

Host name of a namespaced object: `<name>-x-<namespace>-x-<vcluster>`. That plain form is
used only when it is unambiguous and a valid DNS-1123 label: at most 63 characters, no `-x-`
inside the name or namespace (else `a-x-b`/`c` and `a`/`b-x-c` would meet), and no `.` in the
name. Otherwise the host name is the first 52 characters of the plain form (dots made
dashes), `-`, and 10 hex digits of sha256 over name, namespace and vcluster joined by `/`
(a character no name can hold, so distinct triples never hash the same input).
"""

import hashlib
import re
from typing import Any

MAX_NAME = 63
PREFIX = 52
HASH_LEN = 10
SEP = "-x-"

DOMAIN = "subkube.io"
# What the host name of every cluster-scoped copy starts with (host_cluster_name).
CLUSTER_PREFIX = "subkube-"
LABEL_MANAGED_BY = f"{DOMAIN}/managed-by"
LABEL_NAMESPACE = f"{DOMAIN}/namespace"
ANNOTATION_NAME = f"{DOMAIN}/object-name"
ANNOTATION_NAMESPACE = f"{DOMAIN}/object-namespace"
ANNOTATION_UID = f"{DOMAIN}/object-uid"
ANNOTATION_KIND = f"{DOMAIN}/object-kind"
OWNED_ANNOTATIONS = (ANNOTATION_NAME, ANNOTATION_NAMESPACE, ANNOTATION_UID, ANNOTATION_KIND)
# The recorded UID of a host object made while its virtual object was being admitted, before
# the virtual API server gave it a UID: the syncer adopts it once the virtual object exists.
PENDING_UID = "pending"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(value: str) -> bool:
    return len(value) <= MAX_NAME and bool(_DNS_LABEL.match(value))


def validate_vcluster_name(name: str) -> str:
    """A vcluster name must keep host names unambiguous: a DNS label without `-x-`."""
    if not is_dns_label(name) or len(name) > 40 or SEP in name:
        raise ValueError(
            f"invalid vcluster name {name!r}: use lowercase letters, digits and '-', at most 40 "
            "characters, starting and ending with a letter or digit, and not containing '-x-'"
        )
    return name


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:HASH_LEN]


def _safe(plain: str, ambiguous: bool, *key: str) -> str:
    if not ambiguous and len(plain) <= MAX_NAME and "." not in plain:
        return plain
    return plain.replace(".", "-")[:PREFIX] + "-" + _hash(*key)


def _ambiguous(*parts: str) -> bool:
    """Whether joining PARTS with `-x-` can be split another way: a part holding `-x-`, or
    one that starts with `x-` or ends with `-x` (`a-x` + `b` meets `a` + `x-b`)."""
    return any(SEP in f"-{part}-" for part in parts)


def host_name(name: str, namespace: str, vcluster: str) -> str:
    """Host name of a namespaced virtual object."""
    plain = f"{name}{SEP}{namespace}{SEP}{vcluster}"
    return _safe(plain, _ambiguous(name, namespace, vcluster), name, namespace, vcluster)


def host_cluster_name(name: str, host_namespace: str, vcluster: str) -> str:
    """Host name of a cluster-scoped virtual object that is synced to the host."""
    plain = f"{CLUSTER_PREFIX}{name}{SEP}{host_namespace}{SEP}{vcluster}"
    ambiguous = _ambiguous(name, host_namespace, vcluster)
    return _safe(plain, ambiguous, "cluster", name, host_namespace, vcluster)


def host_label_key(key: str, vcluster: str) -> str:
    """User label keys pass through unless they collide with ours (our domain)."""
    prefix, _, _ = key.rpartition("/")
    if prefix == DOMAIN or prefix.endswith("." + DOMAIN):
        return f"{DOMAIN}/label-{vcluster}{SEP}{_hash(key)}"
    return key


def host_labels(labels: dict[str, str] | None, *, vcluster: str, namespace: str) -> dict[str, str]:
    out = {host_label_key(k, vcluster): v for k, v in (labels or {}).items()}
    out[LABEL_MANAGED_BY] = vcluster
    if namespace:
        out[LABEL_NAMESPACE] = namespace
    return out


def host_selector(
    selector: dict[str, str] | None, *, vcluster: str, namespace: str
) -> dict[str, str]:
    """A Service selector as it must read on the host: same keys as host_labels, same ns."""
    return host_labels(selector, vcluster=vcluster, namespace=namespace)


def owner_annotations(obj: dict[str, Any], kind: str) -> dict[str, str]:
    meta = obj.get("metadata", {})
    return {
        ANNOTATION_NAME: meta.get("name", ""),
        ANNOTATION_NAMESPACE: meta.get("namespace", ""),
        ANNOTATION_UID: meta.get("uid", ""),
        ANNOTATION_KIND: kind,
    }


def is_ours(host_obj: dict[str, Any], *, vcluster: str) -> bool:
    """Only objects whose labels AND annotations say they are this vcluster's are touched."""
    meta = host_obj.get("metadata", {})
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if labels.get(LABEL_MANAGED_BY) != vcluster:
        return False
    if not all(annotations.get(a) for a in (ANNOTATION_NAME, ANNOTATION_UID, ANNOTATION_KIND)):
        return False
    namespace = annotations.get(ANNOTATION_NAMESPACE, "")
    if namespace and labels.get(LABEL_NAMESPACE) != namespace:
        return False
    expected = host_name(annotations[ANNOTATION_NAME], namespace, vcluster) if namespace else None
    return expected is None or meta.get("name") == expected


def recorded_uid(host_obj: dict[str, Any]) -> str | None:
    """The UID of the virtual object a host object was made from, as recorded on it."""
    return (host_obj.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_UID)


def virtual_key(host_obj: dict[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the virtual object a host object was made from."""
    annotations = host_obj.get("metadata", {}).get("annotations") or {}
    name = annotations.get(ANNOTATION_NAME)
    if not name:
        return None
    return annotations.get(ANNOTATION_NAMESPACE, ""), name


def owner_reference(service: dict[str, Any]) -> dict[str, Any]:
    """Every namespaced host object is owned by the vcluster's host Service, so deleting
    the Service (or the vcluster, or the namespace) garbage-collects all of it."""
    meta = service["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": False,
        "blockOwnerDeletion": False,
    }


# Annotations that describe how an object was applied inside; they mean nothing on the host
# and can be large.
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def host_metadata(
    vobj: dict[str, Any],
    *,
    kind: str,
    vcluster: str,
    host_namespace: str,
    owner: dict[str, Any] | None,
) -> dict[str, Any]:
    """metadata of the host copy of a namespaced virtual object."""
    meta = vobj.get("metadata", {})
    namespace = meta.get("namespace", "")
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k not in _DROPPED_ANNOTATIONS and not k.startswith(DOMAIN + "/")
    }
    annotations.update(owner_annotations(vobj, kind))
    out: dict[str, Any] = {
        "name": host_name(meta["name"], namespace, vcluster),
        "namespace": host_namespace,
        "labels": host_labels(meta.get("labels"), vcluster=vcluster, namespace=namespace),
        "annotations": annotations,
    }
    if owner is not None:
        out["ownerReferences"] = [owner]
    return out
