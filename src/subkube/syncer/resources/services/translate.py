"""Service virtual -> host, status host -> virtual (pure)."""

from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names

Obj = dict[str, Any]

# Allocated by the host, or meaningless there.
_HOST_ALLOCATED = ("healthCheckNodePort",)
_IMMUTABLE = ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy")


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    meta = vobj["metadata"]
    spec = json_copy(vobj.get("spec") or {})
    for f in _HOST_ALLOCATED:
        spec.pop(f, None)
    if spec.get("selector"):
        spec["selector"] = names.host_selector(
            spec["selector"], vcluster=vcluster, namespace=meta["namespace"]
        )
    if spec.get("clusterIPs") and spec.get("clusterIP") not in (None, "None"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.host_metadata(
            vobj, kind="Service", vcluster=vcluster, host_namespace=host_namespace, owner=owner
        ),
        "spec": spec,
    }


def without_cluster_ip(host: Obj) -> Obj:
    """The same host Service, letting the host pick its ClusterIP."""
    out = json_copy(host)
    for f in ("clusterIP", "clusterIPs"):
        out["spec"].pop(f, None)
    return out


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    want = {k: v for k, v in desired.get("spec", {}).items() if k not in _IMMUTABLE}
    have = actual.get("spec", {})
    # The host fills in nodePorts; keep its choice unless the tenant asked for one.
    want_ports = []
    for i, port in enumerate(want.get("ports") or []):
        host_port = (have.get("ports") or [])[i] if i < len(have.get("ports") or []) else {}
        if "nodePort" not in port and "nodePort" in host_port:
            port = {**port, "nodePort": host_port["nodePort"]}
        want_ports.append(port)
    if "ports" in want:
        want["ports"] = want_ports
    patch = {k: v for k, v in want.items() if have.get(k) != v}
    return {"spec": patch} if patch else None


def status_to_virtual(vobj: Obj, hobj: Obj) -> Obj | None:
    lb = (hobj.get("status") or {}).get("loadBalancer") or {}
    if (vobj.get("status") or {}).get("loadBalancer", {}) == lb:
        return None
    out = json_copy(vobj)
    out.setdefault("status", {})["loadBalancer"] = lb
    return out


def ip_mismatch(vobj: Obj, hobj: Obj) -> bool:
    vip = vobj.get("spec", {}).get("clusterIP")
    hip = hobj.get("spec", {}).get("clusterIP")
    return bool(vip and hip and vip != "None" and hip != "None" and vip != hip)


def recreated_with_ip(vobj: Obj, ip: str) -> Obj:
    """The virtual Service as it must be created anew to carry the host's ClusterIP."""
    out = json_copy(vobj)
    meta = out["metadata"]
    for f in (
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        meta.pop(f, None)
    out["spec"]["clusterIP"] = ip
    out["spec"]["clusterIPs"] = [ip]
    out.pop("status", None)
    return out


def born_on_host(vobj: Obj) -> bool:
    """Whether a Service being created gets its host copy first, to be born with the host's
    ClusterIP: every Service that has a ClusterIP."""
    spec = vobj.get("spec") or {}
    return spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None"


def admission_patch(vobj: Obj, hobj: Obj) -> list[Obj]:
    """JSON patch giving the Service being admitted its host copy's ClusterIPs and node
    ports, so what the tenant creates is what the host allocated."""
    hspec = hobj.get("spec") or {}
    ops: list[Obj] = []
    if hspec.get("clusterIP"):
        ops.append({"op": "add", "path": "/spec/clusterIP", "value": hspec["clusterIP"]})
        ops.append(
            {
                "op": "add",
                "path": "/spec/clusterIPs",
                "value": hspec.get("clusterIPs") or [hspec["clusterIP"]],
            }
        )
    host_ports = hspec.get("ports") or []
    for i, port in enumerate((vobj.get("spec") or {}).get("ports") or []):
        node_port = host_ports[i].get("nodePort") if i < len(host_ports) else None
        if node_port and port.get("nodePort") != node_port:
            ops.append({"op": "add", "path": f"/spec/ports/{i}/nodePort", "value": node_port})
    return ops
