"""Fake nodes inside the vcluster (pure): which are needed, and what they look like."""

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
