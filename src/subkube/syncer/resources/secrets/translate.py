"""Secret virtual -> host (pure)."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer.names import host_metadata

# Service-account token Secrets are minted by the virtual API server for virtual identities;
# on the host they would be meaningless (and the host would try to populate them).
SKIPPED_TYPES = ("kubernetes.io/service-account-token",)


def to_host(
    vobj: dict[str, Any], *, vcluster: str, host_namespace: str, owner: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": host_metadata(
            vobj, kind="Secret", vcluster=vcluster, host_namespace=host_namespace, owner=owner
        ),
        "type": vobj.get("type", "Opaque"),
    }
    for f in ("data", "stringData", "immutable"):
        if f in vobj:
            out[f] = json_copy(vobj[f])
    return out
