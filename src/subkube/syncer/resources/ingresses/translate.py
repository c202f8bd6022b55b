"""Ingress virtual -> host, loadBalancer status host -> virtual (pure).

Every name an Ingress gives is an object of its own namespace, so every one is translated
to that object's host name: backend Services, TLS Secrets, typed `resource` backends (the
host copy of whatever they name, if that kind is synced; never a host object of the raw
name), and the Secrets ingress-nginx reads from its `auth-secret`, `auth-tls-secret` and
`proxy-ssl-secret` annotations. The ingress class is the host's and is kept.
"""

from collections.abc import Iterator
from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import merge, names

Obj = dict[str, Any]

# ingress-nginx annotations naming a Secret as `name` or `namespace/name`.
SECRET_ANNOTATIONS = (
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret",
)


def _backends(spec: Obj) -> Iterator[Obj]:
    if backend := spec.get("defaultBackend"):
        yield backend
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            if backend := path.get("backend"):
                yield backend


def _annotation_secret(value: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Secret an annotation value names, or None if malformed."""
    parts = value.split("/")
    if len(parts) == 1 and parts[0]:
        return namespace, parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return None


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    namespace = vobj["metadata"]["namespace"]
    spec = json_copy(vobj.get("spec") or {})
    for backend in _backends(spec):
        for ref in (backend.get("service"), backend.get("resource")):
            if ref and ref.get("name"):
                ref["name"] = names.host_name(ref["name"], namespace, vcluster)
    for tls in spec.get("tls") or []:
        if tls.get("secretName"):
            tls["secretName"] = names.host_name(tls["secretName"], namespace, vcluster)
    meta = names.host_metadata(
        vobj, kind="Ingress", vcluster=vcluster, host_namespace=host_namespace, owner=owner
    )
    for key in SECRET_ANNOTATIONS:
        if key not in meta["annotations"]:
            continue
        found = _annotation_secret(meta["annotations"][key], namespace)
        if found is None:
            # Unreadable to us, so possibly naming a host Secret: not passed on.
            del meta["annotations"][key]
            continue
        ns, name = found
        meta["annotations"][key] = f"{host_namespace}/{names.host_name(name, ns, vcluster)}"
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def referenced_secrets(vobj: Obj) -> set[str]:
    """The Secrets of the Ingress's namespace it uses: TLS Secrets and those the nginx
    annotations name. An annotation naming another namespace's Secret is translated but
    not listed: that Secret reaches the host only if something in its namespace uses it."""
    namespace = vobj["metadata"].get("namespace", "")
    out = {
        t["secretName"] for t in (vobj.get("spec") or {}).get("tls") or [] if t.get("secretName")
    }
    annotations = vobj["metadata"].get("annotations") or {}
    for key in SECRET_ANNOTATIONS:
        found = _annotation_secret(annotations.get(key, ""), namespace)
        if found and found[0] == namespace:
            out.add(found[1])
    return out


def referenced_services(vobj: Obj) -> set[str]:
    return {
        b["service"]["name"]
        for b in _backends(vobj.get("spec") or {})
        if (b.get("service") or {}).get("name")
    }


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """Merge patch making the host spec the translated virtual one (removals included)."""
    patch = merge.merge_patch(actual.get("spec") or {}, desired.get("spec") or {})
    return {"spec": patch} if patch else None


def status_to_virtual(vobj: Obj, hobj: Obj) -> Obj | None:
    """The status the virtual Ingress should have: the host's load balancer addresses."""
    lb = (hobj.get("status") or {}).get("loadBalancer") or {}
    if ((vobj.get("status") or {}).get("loadBalancer") or {}) == lb:
        return None
    return {"status": {"loadBalancer": json_copy(lb)}}
