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


def needed_nodes(pods: list[Obj]) -> set[str]:
    """Nodes running at least one live tenant pod that is not a DaemonSet's: a DaemonSet
    has a pod on every node, so its pods alone would keep every fake node forever."""
    out = set()
    for pod in pods:
        node = pod.get("spec", {}).get("nodeName")
        phase = pod.get("status", {}).get("phase")
        if node and phase not in ("Succeeded", "Failed") and not _is_daemonset_pod(pod):
            out.add(node)
    return out


def fake_node(name: str, *, now: str, kubelet_version: str) -> Obj:
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
            "addresses": [{"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
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


def needed_host_nodes(
    host_nodes: list[Obj], pods: list[Obj], *, all_nodes: bool, labels: dict[str, str]
) -> set[str]:
    """The host nodes to show: those matching LABELS; all of them with ALL_NODES, else only
    those running tenant pods."""
    candidates = {n["metadata"]["name"] for n in host_nodes if matches(n, labels)}
    return candidates if all_nodes else candidates & needed_nodes(pods)


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


def host_node_copy(hnode: Obj) -> Obj:
    meta, spec = hnode["metadata"], hnode.get("spec", {})
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(_HOST_ONLY_ANNOTATIONS)
    }
    # What the host said when copied: tenant edits are told apart from host changes by it.
    annotations[SNAPSHOT_ANNOTATION] = json.dumps(_editable(hnode), sort_keys=True)
    status = {k: v for k, v in (hnode.get("status") or {}).items() if k != "images"}
    # The host's kubelet serves host pod names; inside, logs and exec need the syncer's way.
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 0}}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": meta["name"],
            "labels": {**(meta.get("labels") or {}), HOST_NODE_LABEL: "true"},
            "annotations": annotations,
        },
        "spec": {k: spec[k] for k in ("taints", "unschedulable") if k in spec},
        "status": status,
    }


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
