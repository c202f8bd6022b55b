"""kwok: fake kubelets that make nodes Ready and pods Running, without containers."""

from pathlib import Path
from typing import Any

# kwok manages exactly the nodes carrying this annotation, so real nodes are never touched.
MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"


def argv(
    binary: Path, stages: Path, kubeconfig: Path, server_port: int, pod_cidr: str
) -> list[str]:
    return [
        str(binary),
        f"--config={stages}",
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={MANAGED_ANNOTATION}={MANAGED_VALUE}",
        f"--cidr={pod_cidr}",
        "--node-ip=127.0.0.1",
        f"--server-address=127.0.0.1:{server_port}",
        # Nodes advertise this port as their kubelet's, so the API server's port-forward and
        # logs requests reach kwok, which answers them from PortForward and Logs objects.
        f"--node-port={server_port}",
        "--enable-crds=PortForward,Logs",
        "--node-lease-duration-seconds=40",
    ]


def health_url(server_port: int) -> str:
    return f"http://127.0.0.1:{server_port}/healthz"


def node_manifest(
    name: str, *, cpu: str = "32", memory: str = "256Gi", pods: int = 110
) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {MANAGED_ANNOTATION: MANAGED_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "containerRuntimeVersion": "kwok",
                "osImage": "kwok",
                "kernelVersion": "kwok",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }
