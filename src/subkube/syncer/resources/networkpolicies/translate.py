"""NetworkPolicy virtual -> host (pure).

All tenant pods share one host namespace, so every selector is scoped by labels instead:
a podSelector becomes "these labels, in this virtual namespace, of this vcluster"; a
namespaceSelector is resolved against the virtual namespaces and becomes the list of
matching namespace names (the syncer re-translates when namespaces change). ipBlocks and
ports pass unchanged. A peer that matches no namespace matches no pod, never every pod.
"""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names

Obj = dict[str, Any]

# A label no pod carries: a selector requiring it matches nothing.
NO_MATCH = {"key": f"{names.DOMAIN}/no-namespace-matches", "operator": "Exists"}


def _pod_selector(selector: Obj | None, vcluster: str, namespaces: list[str] | None) -> Obj:
    """SELECTOR over tenant pod labels, limited to NAMESPACES (None: every namespace)."""
    selector = selector or {}
    out: Obj = {"matchLabels": {names.LABEL_MANAGED_BY: vcluster}}
    for key, value in (selector.get("matchLabels") or {}).items():
        out["matchLabels"][names.host_label_key(key, vcluster)] = value
    exprs = [
        {**e, "key": names.host_label_key(e["key"], vcluster)}
        for e in selector.get("matchExpressions") or []
    ]
    if namespaces is not None:
        if len(namespaces) == 1:
            out["matchLabels"][names.LABEL_NAMESPACE] = namespaces[0]
        elif namespaces:
            exprs.append(
                {"key": names.LABEL_NAMESPACE, "operator": "In", "values": sorted(namespaces)}
            )
        else:
            exprs.append(NO_MATCH)
    if exprs:
        out["matchExpressions"] = exprs
    return out


def _matches(labels: dict[str, str], selector: Obj) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def matching_namespaces(selector: Obj, namespaces: list[Obj]) -> list[str]:
    return [
        ns["metadata"]["name"]
        for ns in namespaces
        if _matches(ns["metadata"].get("labels") or {}, selector)
    ]


def _peer(peer: Obj, own_namespace: str, vcluster: str, namespaces: list[Obj]) -> Obj:
    if "ipBlock" in peer:
        return json_copy(peer)
    if "namespaceSelector" in peer:
        ns_selector = peer["namespaceSelector"] or {}
        scope = None if not ns_selector else matching_namespaces(ns_selector, namespaces)
    else:
        scope = [own_namespace]
    return {"podSelector": _pod_selector(peer.get("podSelector"), vcluster, scope)}


def to_host(
    vobj: Obj,
    *,
    vcluster: str,
    host_namespace: str,
    owner: Obj | None,
    namespaces: list[Obj],
) -> Obj:
    """NAMESPACES: the virtual Namespace objects, to resolve namespaceSelectors."""
    ns = vobj["metadata"]["namespace"]
    spec = json_copy(vobj.get("spec") or {})
    spec["podSelector"] = _pod_selector(spec.get("podSelector"), vcluster, [ns])
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction) or []:
            if rule.get(peers_key):
                rule[peers_key] = [_peer(p, ns, vcluster, namespaces) for p in rule[peers_key]]
    meta = names.host_metadata(
        vobj, kind="NetworkPolicy", vcluster=vcluster, host_namespace=host_namespace, owner=owner
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": spec,
    }
