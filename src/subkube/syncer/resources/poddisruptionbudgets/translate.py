"""PodDisruptionBudget virtual -> host, status host -> virtual (pure).

All tenant pods share one host namespace, so the budget's selector is scoped by labels:
the tenant's labels as host pods carry them (names.host_labels), plus this vcluster's
managed-by label and the virtual namespace's label. An empty selector (every pod of the
namespace) becomes every pod of this virtual namespace of this vcluster; a null selector
still matches nothing.

Status flows back whole, with two translations: observedGeneration is the virtual
object's generation, and disruptedPods is keyed by virtual pod names. A host pod name may
be hashed (names.py) and cannot be inverted, so the caller passes host -> virtual names
(host_pod_names builds them from the virtual pods); a pod missing from that map is left
out (the eviction it records is being undone or is already over).
"""

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from subkube.syncer import merge, names

Obj = dict[str, Any]


def host_selector(selector: Obj, *, vcluster: str, namespace: str) -> Obj:
    """A label selector over the pods of NAMESPACE, as it must read on the host."""
    out: Obj = {
        "matchLabels": names.host_labels(
            selector.get("matchLabels"), vcluster=vcluster, namespace=namespace
        )
    }
    if exprs := selector.get("matchExpressions"):
        out["matchExpressions"] = [
            {**e, "key": names.host_label_key(e["key"], vcluster)} for e in exprs
        ]
    return out


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    spec = copy.deepcopy(vobj.get("spec") or {})
    if spec.get("selector") is not None:
        spec["selector"] = host_selector(
            spec["selector"], vcluster=vcluster, namespace=vobj["metadata"]["namespace"]
        )
    meta = names.host_metadata(
        vobj,
        kind="PodDisruptionBudget",
        vcluster=vcluster,
        host_namespace=host_namespace,
        owner=owner,
    )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": spec,
    }


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """Merge patch making the host spec the translated virtual one (removals included)."""
    patch = merge.merge_patch(actual.get("spec") or {}, desired.get("spec") or {})
    return {"spec": patch} if patch else None


def host_pod_names(virtual_pods: Iterable[Obj], vcluster: str) -> dict[str, str]:
    """Host pod name -> virtual pod name, for status_to_virtual."""
    out = {}
    for pod in virtual_pods:
        meta = pod["metadata"]
        out[names.host_name(meta["name"], meta["namespace"], vcluster)] = meta["name"]
    return out


def status_to_virtual(vobj: Obj, hobj: Obj, *, pod_names: Mapping[str, str]) -> Obj | None:
    """The status the virtual budget should have, or None if it has it (or the host has
    none yet). POD_NAMES: host pod name -> virtual pod name."""
    hstatus = hobj.get("status") or {}
    if not hstatus:
        return None
    vstatus = vobj.get("status") or {}
    status = copy.deepcopy(hstatus)
    # The host's numbers describe the virtual generation only once the host has seen its
    # own latest generation; until then the virtual one keeps what it had.
    host_observed = hstatus.get("observedGeneration")
    caught_up = host_observed is not None and host_observed == hobj["metadata"].get("generation")
    observed = (
        vobj["metadata"].get("generation") if caught_up else vstatus.get("observedGeneration")
    )
    status.pop("observedGeneration", None)
    if observed is not None:
        status["observedGeneration"] = observed
    for condition in status.get("conditions") or []:
        if "observedGeneration" not in condition:
            continue
        if observed is None:
            del condition["observedGeneration"]
        else:
            condition["observedGeneration"] = observed
    if "disruptedPods" in status:
        status["disruptedPods"] = {
            pod_names[host]: at for host, at in status["disruptedPods"].items() if host in pod_names
        }
    if status == vstatus:
        return None
    return {"status": status}
