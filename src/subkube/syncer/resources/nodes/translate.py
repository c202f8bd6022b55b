"""Fake nodes inside the vcluster (pure): which are needed, and what they look like."""

import json
from typing import Any

from subkube.syncer.names import DOMAIN

Obj = dict[str, Any]

FAKE_NODE_LABEL = f"{DOMAIN}/fake-node"
CAPACITY = {"cpu": "16", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def _is_daemonset_pod(pod: Obj) -> bool:
    return any(
        ref.get("kind") == "DaemonSet"
        for ref in pod.get("metadata", {}).get("ownerReferences") or []
    )


def holding_node(pod: Obj) -> list[str]:
    """The node this pod keeps inside (an index function): any tenant pod but a
    DaemonSet's, since a DaemonSet has a pod on every node, so its pods alone would keep
    every node forever. A finished pod counts: `kubectl logs` of a completed Job goes
    through its node."""
    node = pod.get("spec", {}).get("nodeName")
    return [node] if node and not _is_daemonset_pod(pod) else []


def daemonset_pods_on(node: str, pods: list[Obj]) -> list[Obj]:
    """What goes with a fake node: a DaemonSet's pod lives and dies with its node (as the
    pod garbage collector of a cluster removes pods of deleted nodes)."""
    return [p for p in pods if p.get("spec", {}).get("nodeName") == node and _is_daemonset_pod(p)]


def kubelet_status(address: str, port: int, node: str) -> Obj:
    """Where the virtual API server reaches a node's kubelet: the runner's endpoint."""
    return {
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": node},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }


def kubelet_differs(node: Obj, address: str, port: int) -> bool:
    status = node.get("status") or {}
    want = kubelet_status(address, port, node["metadata"]["name"])
    return any(status.get(k) != v for k, v in want.items())


def fake_node(name: str, *, now: str, kubelet_version: str, address: str, port: int) -> Obj:
    conditions = [
        {
            "type": t,
            "status": "False",
            "reason": r,
            "message": m,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID"),
        )
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                FAKE_NODE_LABEL: "true",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": {},
        "status": {
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "conditions": conditions,
            **kubelet_status(address, port, name),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "subkube://fake",
                "osImage": "subkube",
                "kernelVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


def lease(name: str, *, now: str, duration: int = 40) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": duration, "renewTime": now},
    }


# sync.fromHost.nodes: copies of the real host nodes instead of fake ones.
HOST_NODE_LABEL = f"{DOMAIN}/host-node"
# Host bookkeeping that means nothing inside (and must not flow back).
_HOST_ONLY_ANNOTATIONS = ("node.alpha.kubernetes.io/ttl", "volumes.kubernetes.io/")
SNAPSHOT_ANNOTATION = f"{DOMAIN}/host-node-state"


def matches(node: Obj, labels: dict[str, str]) -> bool:
    have = node.get("metadata", {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


def shows_host_node(
    hnode: Obj, *, holds_pods: bool, all_nodes: bool, labels: dict[str, str]
) -> bool:
    """Whether a host node is shown inside: it matches LABELS, and, unless ALL_NODES, runs
    tenant pods (HOLDS_PODS)."""
    return matches(hnode, labels) and (all_nodes or holds_pods)


def _editable(node: Obj) -> Obj:
    """What a tenant may change on a node copy (and, with syncBackChanges, on the host)."""
    labels = dict(node.get("metadata", {}).get("labels") or {})
    labels.pop(HOST_NODE_LABEL, None)
    spec = node.get("spec", {})
    return {
        "labels": labels,
        "taints": spec.get("taints"),
        "unschedulable": spec.get("unschedulable"),
    }


def host_node_copy(hnode: Obj, *, address: str, port: int, edits: Obj | None = None) -> Obj:
    """The tenant's view of a host node: its kubelet is the runner's endpoint, and EDITS
    (tenant_edits of the current view) stay applied on top of what the host says."""
    meta, spec = hnode["metadata"], hnode.get("spec", {})
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(_HOST_ONLY_ANNOTATIONS)
    }
    # What the host said when copied: tenant edits are told apart from host changes by it.
    annotations[SNAPSHOT_ANNOTATION] = json.dumps(_editable(hnode), sort_keys=True)
    status = {k: v for k, v in (hnode.get("status") or {}).items() if k != "images"}
    # The host's kubelet knows host pod names only: inside, nodes are reached through the
    # runner, which translates them.
    status.update(kubelet_status(address, port, meta["name"]))
    edits = edits or {}
    labels = _patched(meta.get("labels") or {}, (edits.get("metadata") or {}).get("labels"))
    labels[HOST_NODE_LABEL] = "true"
    spec_out = _patched(
        {k: spec[k] for k in ("taints", "unschedulable") if k in spec}, edits.get("spec")
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": meta["name"], "labels": labels, "annotations": annotations},
        "spec": spec_out,
        "status": status,
    }


def _patched(values: Obj, patch: Obj | None) -> Obj:
    """VALUES with a flat merge patch applied (a None value removes its key)."""
    out = dict(values)
    for key, value in (patch or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def tenant_edits(virtual: Obj) -> Obj | None:
    """syncBackChanges: what was changed inside since the copy (labels, taints,
    unschedulable), as a merge patch for the host node; None when nothing was."""
    raw = (virtual["metadata"].get("annotations") or {}).get(SNAPSHOT_ANNOTATION)
    if not raw:
        return None
    before, now = json.loads(raw), _editable(virtual)
    patch: Obj = {}
    labels = {k: v for k, v in now["labels"].items() if before["labels"].get(k) != v}
    labels.update({k: None for k in before["labels"] if k not in now["labels"]})
    if labels:
        patch["metadata"] = {"labels": labels}
    for field in ("taints", "unschedulable"):
        if now[field] != before[field]:
            patch.setdefault("spec", {})[field] = now[field]
    return patch or None


def copy_differs(desired: Obj, actual: Obj) -> tuple[bool, bool]:
    """(metadata or spec differ, status differs)."""
    meta_a, meta_d = actual.get("metadata", {}), desired["metadata"]
    spec_changed = (
        (meta_a.get("labels") or {}) != meta_d.get("labels", {})
        or (meta_a.get("annotations") or {}) != meta_d.get("annotations", {})
        or {k: actual.get("spec", {}).get(k) for k in ("taints", "unschedulable")}
        != {k: desired["spec"].get(k) for k in ("taints", "unschedulable")}
    )
    return spec_changed, actual.get("status") != desired["status"]
