"""Events host -> virtual (pure): about synced objects only, with no host name left."""

import copy
from typing import Any

from subkube.syncer import names

Obj = dict[str, Any]


def to_virtual(hevent: Obj, involved: Obj, *, host_namespace: str) -> Obj | None:
    """The virtual copy of a host event about INVOLVED (the host object); None if that object
    is not a synced one."""
    annotations = involved.get("metadata", {}).get("annotations") or {}
    vname = annotations.get(names.ANNOTATION_NAME)
    vns = annotations.get(names.ANNOTATION_NAMESPACE)
    vuid = annotations.get(names.ANNOTATION_UID)
    if not (vname and vns):
        return None
    hname = involved["metadata"]["name"]
    event = copy.deepcopy(hevent)
    meta = event["metadata"]
    suffix = meta["name"][len(hname) :] if meta["name"].startswith(hname) else "." + meta["uid"]
    obj = event["involvedObject"]
    obj.update({"name": vname, "namespace": vns, "uid": vuid})
    obj.pop("resourceVersion", None)

    def scrub(text: str) -> str:
        return text.replace(f"{host_namespace}/{hname}", f"{vns}/{vname}").replace(hname, vname)

    out: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": vname + suffix, "namespace": vns},
        "involvedObject": obj,
        "reason": event.get("reason", ""),
        "message": scrub(event.get("message", "")),
        "type": event.get("type", "Normal"),
        "count": event.get("count", 1),
        "source": event.get("source") or {},
        "reportingComponent": event.get("reportingComponent", ""),
        "reportingInstance": event.get("reportingInstance", ""),
        "action": event.get("action", ""),
    }
    for f in ("firstTimestamp", "lastTimestamp", "eventTime"):
        if event.get(f):
            out[f] = event[f]
    if not out.get("eventTime") and not out.get("firstTimestamp"):
        out["firstTimestamp"] = meta.get("creationTimestamp")
        out["lastTimestamp"] = meta.get("creationTimestamp")
    return out
