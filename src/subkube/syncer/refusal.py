"""How a tenant learns that an object of theirs never reaches the host (pure): the Warning
event `kubectl describe` and `kubectl get events` show, for any kind."""

from typing import Any

Obj = dict[str, Any]

# The reason on a refused object's events and status.
REASON = "Forbidden"
# Where the API server's own events about cluster-scoped objects go.
CLUSTER_EVENTS_NAMESPACE = "default"


def event(vobj: Obj, *, kind: str, api_version: str, message: str, now: str, vcluster: str) -> Obj:
    """The Warning event about VOBJ, a KIND of API_VERSION, refused for MESSAGE."""
    meta = vobj["metadata"]
    namespace = meta.get("namespace") or ""
    involved = {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }
    if namespace:
        involved["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{meta['name']}.",
            "namespace": namespace or CLUSTER_EVENTS_NAMESPACE,
        },
        "involvedObject": involved,
        "type": "Warning",
        "reason": REASON,
        "message": message,
        "source": {"component": "subkube-syncer"},
        "reportingComponent": "subkube.io/syncer",
        "reportingInstance": vcluster,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
