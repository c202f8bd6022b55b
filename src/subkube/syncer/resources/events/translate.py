"""Events host -> virtual (pure): about synced objects only, with no host name left."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names

Obj = dict[str, Any]


def to_virtual(hevent: Obj, involved: Obj, *, host_namespace: str, vcluster: str) -> Obj | None:
    """The virtual copy of a host event about INVOLVED (the host object); None if that object
    is not a synced one. It is labelled as VCLUSTER's syncer's, so the syncer can watch
    the copies it made."""
    annotations = involved.get("metadata", {}).get("annotations") or {}
    vname = annotations.get(names.ANNOTATION_NAME)
    vns = annotations.get(names.ANNOTATION_NAMESPACE)
    vuid = annotations.get(names.ANNOTATION_UID)
    if not (vname and vns):
        return None
    hname = involved["metadata"]["name"]
    event = json_copy(hevent)
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
        "metadata": {
            "name": vname + suffix,
            "namespace": vns,
            "labels": {names.LABEL_MANAGED_BY: vcluster},
        },
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


def copied(vevent: Obj) -> Obj:
    """What the syncer keeps of a copy it made inside: what it compares to the host's."""
    meta = vevent["metadata"]
    return {
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "count": vevent.get("count"),
        "message": vevent.get("message"),
    }


def changed(copy_inside: Obj, vevent: Obj) -> Obj | None:
    """The merge patch that brings COPY_INSIDE up to VEVENT, None when it is up to date."""
    if (
        copy_inside.get("count") == vevent["count"]
        and copy_inside.get("message") == vevent["message"]
    ):
        return None
    return {
        "count": vevent["count"],
        "message": vevent["message"],
        "lastTimestamp": vevent.get("lastTimestamp"),
    }
