"""Endpoints of selector-less Services, virtual -> host (pure)."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names

Obj = dict[str, Any]


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    subsets = json_copy(vobj.get("subsets") or [])
    namespace = vobj["metadata"]["namespace"]
    for subset in subsets:
        for field in ("addresses", "notReadyAddresses"):
            for address in subset.get(field) or []:
                ref = address.get("targetRef")
                if ref and ref.get("kind") == "Pod":
                    address["targetRef"] = {
                        "kind": "Pod",
                        "namespace": host_namespace,
                        "name": names.host_name(
                            ref["name"], ref.get("namespace", namespace), vcluster
                        ),
                    }
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": names.host_metadata(
            vobj, kind="Endpoints", vcluster=vcluster, host_namespace=host_namespace, owner=owner
        ),
        "subsets": subsets,
    }
