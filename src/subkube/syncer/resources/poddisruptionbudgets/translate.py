"""PodDisruptionBudget virtual -> host, status host -> virtual (pure).

All tenant pods share one host namespace, so the budget's selector is scoped by labels:
the tenant's labels as host pods carry them (names.host_labels), plus this vcluster's
managed-by label and the virtual namespace's label. An empty selector (every pod of the
namespace) becomes every pod of this virtual namespace of this vcluster; a null selector
still matches nothing.

The host copy's budget is always an integer minAvailable. Host pods have no controller
(the vcluster's Service owns them), and the host's disruption controller knows how many
pods to expect only for an integer minAvailable: for maxUnavailable or a percentage it
asks the owning controller's scale, finds none, and allows no disruption at all, which
would let a tenant's `maxUnavailable: 1` block the host admin's drains for ever. So the
syncer does that part of the controller's work (host_budget): the expected pods are the
virtual pods the selector matches that are neither terminal nor being deleted, a
percentage is scaled from them rounding up (GetScaledValueFromIntOrPercent, roundUp), and
maxUnavailable becomes minAvailable = expected - maxUnavailable. That integer budget is the
tenant's budget, so the host's status of it (desiredHealthy, expectedPods,
disruptionsAllowed) is right inside and flows back as it is. The approximation: Kubernetes
takes the expected count from the owning controllers' scale, the syncer from the pods
there are now: while a Deployment scales up the budget lags the scale by one reconcile (it
grows as the new pods appear), a rollout's surge pods count while they exist, and pods that
nothing replaces lower the budget as they go.

Status flows back whole, with two translations: observedGeneration is the virtual
object's generation, and disruptedPods is keyed by virtual pod names. A host pod name may
be hashed (names.py) and cannot be inverted, so the caller passes host -> virtual names
(host_pod_names builds them from the virtual pods); a pod missing from that map is left
out (the eviction it records is being undone or is already over).

Evictions inside are granted by the virtual API server against the virtual status: it
records the pod in disruptedPods and lowers disruptionsAllowed, then deletes the pod. The
host learns of it only once the syncer deletes the host pod, so until then the host's
numbers still count that pod as healthy. Copying them back as they are would hand the same
disruption out twice (a drain evicts pods concurrently). So a pod the virtual status lists
and the host's does not stays listed, and keeps its disruption taken, while it exists inside
(the virtual pod goes only once its host pod is gone) and for at most the disruption
controller's DELETION_TIMEOUT (an eviction whose delete never came).
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import merge, names

Obj = dict[str, Any]

# The disruption controller's DeletionTimeout: how long an eviction's entry in disruptedPods
# waits for the pod's deletion before it is taken for an eviction that never happened.
DELETION_TIMEOUT = dt.timedelta(minutes=2)
DISRUPTION_ALLOWED = "DisruptionAllowed"
TERMINAL = ("Succeeded", "Failed")
# What strconv.Atoi takes before the "%" of an IntOrString percentage.
_PERCENT = re.compile(r"([+-]?[0-9]+)%")


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


def selects(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    """Whether a budget's SELECTOR matches a pod with LABELS (policy/v1: a null selector
    matches nothing, an empty one everything)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        present = key in labels
        if op == "In":
            ok = present and labels[key] in values
        elif op == "NotIn":
            ok = not present or labels[key] not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            ok = False  # the API server stores no other operator
        if not ok:
            return False
    return True


def counts(pod: Obj) -> bool:
    """Whether POD is one a budget expects: neither terminal nor being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in TERMINAL and not pod.get("metadata", {}).get("deletionTimestamp")


def expected_pods(selector: Obj | None, pods: Iterable[Obj]) -> int:
    """How many of PODS (the virtual pods of the budget's namespace) the budget expects."""
    return sum(
        1
        for pod in pods
        if counts(pod) and selects(selector, pod.get("metadata", {}).get("labels") or {})
    )


def scaled(value: Any, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true); ValueError on
    what it refuses."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid value for IntOrString: {value!r} is not a percentage")
    return -(-int(match[1]) * total // 100)  # ceil, in integers


def host_min_available(spec: Obj, expected: int) -> int | None:
    """The integer minAvailable that means on the host what SPEC means for EXPECTED pods;
    None for a budget that sets neither bound (the host reads it as the tenant's does)."""
    try:
        if spec.get("maxUnavailable") is not None:
            return max(0, expected - scaled(spec["maxUnavailable"], expected))
        if spec.get("minAvailable") is not None:
            return scaled(spec["minAvailable"], expected)
    except ValueError:
        # The disruption controller allows nothing for a bound it cannot read (the
        # virtual API server refuses to store one, so this is only belt and braces).
        return expected
    return None


def host_budget(spec: Obj, pods: Iterable[Obj]) -> Obj:
    """SPEC (the virtual one) with its bound as the host copy's integer minAvailable, given
    the virtual pods of the budget's namespace; no maxUnavailable."""
    out = json_copy(spec)
    out.pop("maxUnavailable", None)
    out.pop("minAvailable", None)
    bound = host_min_available(spec, expected_pods(spec.get("selector"), pods))
    if bound is not None:
        out["minAvailable"] = bound
    return out


def to_host(
    vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None, pods: Iterable[Obj]
) -> Obj:
    """The host copy of VOBJ; PODS: the virtual pods of its namespace (see host_budget)."""
    spec = host_budget(vobj.get("spec") or {}, pods)
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


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def pending_evictions(
    vstatus: Obj, host_disrupted: Mapping[str, Any], pods_inside: Iterable[str], now: dt.datetime
) -> dict[str, Any]:
    """Evictions granted inside that the host's status does not count yet (see above)."""
    inside = set(pods_inside)
    out = {}
    for pod, at in (vstatus.get("disruptedPods") or {}).items():
        when = _parse_time(at)
        if pod in host_disrupted or pod not in inside or when is None:
            continue
        if when + DELETION_TIMEOUT > now:
            out[pod] = at
    return out


def _disallow(status: Obj, vstatus: Obj, observed: Any, now: dt.datetime) -> None:
    """The DisruptionAllowed condition the eviction API sets when it takes the last
    disruption (policy helper UpdateDisruptionAllowedCondition), keeping the virtual
    transition time if the virtual status already says so."""
    conditions = status.setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == DISRUPTION_ALLOWED), None)
    if current is not None and current.get("status") == "False":
        return
    before = next(
        (c for c in vstatus.get("conditions") or [] if c.get("type") == DISRUPTION_ALLOWED), {}
    )
    since = before.get("lastTransitionTime") if before.get("status") == "False" else None
    condition: Obj = {
        "type": DISRUPTION_ALLOWED,
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "lastTransitionTime": since or now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if observed is not None:
        condition["observedGeneration"] = observed
    status["conditions"] = [c for c in conditions if c is not current] + [condition]


def status_to_virtual(
    vobj: Obj, hobj: Obj, *, pod_names: Mapping[str, str], now: dt.datetime
) -> Obj | None:
    """The status the virtual budget should have, or None if it has it (or the host has
    none yet). POD_NAMES: host pod name -> virtual pod name, for every pod inside of the
    budget's namespace."""
    hstatus = hobj.get("status") or {}
    if not hstatus:
        return None
    vstatus = vobj.get("status") or {}
    status = json_copy(hstatus)
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
    pending = pending_evictions(vstatus, status.get("disruptedPods") or {}, pod_names.values(), now)
    if pending:
        status["disruptedPods"] = {**(status.get("disruptedPods") or {}), **pending}
        allowed = max(0, int(status.get("disruptionsAllowed") or 0) - len(pending))
        status["disruptionsAllowed"] = allowed
        if allowed == 0:
            _disallow(status, vstatus, observed, now)
    if status == vstatus:
        return None
    return {"status": status}
