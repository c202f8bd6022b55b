"""ConfigMap virtual -> host (pure)."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer.names import host_metadata


def to_host(
    vobj: dict[str, Any], *, vcluster: str, host_namespace: str, owner: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": host_metadata(
            vobj, kind="ConfigMap", vcluster=vcluster, host_namespace=host_namespace, owner=owner
        ),
    }
    for f in ("data", "binaryData", "immutable"):
        if f in vobj:
            out[f] = json_copy(vobj[f])
    return out
