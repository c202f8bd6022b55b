"""kwok: fake kubelets that make nodes Ready and pods Running, without containers."""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from subkube.errors import SubkubeError
from subkube.kube.resource import Resource

# kwok manages exactly the nodes carrying this annotation, so real nodes are never touched.
MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"


_GROUP, _VERSION = "kwok.x-k8s.io", "v1alpha1"
PORT_FORWARDS = Resource(_GROUP, _VERSION, "portforwards", "PortForward")
LOGS = Resource(_GROUP, _VERSION, "logs", "Logs")
EXECS = Resource(_GROUP, _VERSION, "execs", "Exec")
ATTACHES = Resource(_GROUP, _VERSION, "attaches", "Attach")
CLUSTER_PORT_FORWARDS = Resource(
    _GROUP, _VERSION, "clusterportforwards", "ClusterPortForward", namespaced=False
)
CLUSTER_LOGS = Resource(_GROUP, _VERSION, "clusterlogs", "ClusterLogs", namespaced=False)
CLUSTER_EXECS = Resource(_GROUP, _VERSION, "clusterexecs", "ClusterExec", namespaced=False)
CLUSTER_ATTACHES = Resource(_GROUP, _VERSION, "clusterattaches", "ClusterAttach", namespaced=False)

# kwok's default stages that subkube's own stages replace: if a kwok version renames one,
# both would apply to the same pods.
REPLACED_STAGES = ("pod-complete",)


def argv(
    binary: Path,
    stages: Path,
    kubeconfig: Path,
    server_port: int,
    pod_cidr: str,
    crds: Iterable[str],
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
        # Nodes advertise this port as their kubelet's, so the API server's logs, attach, exec
        # and port-forward requests reach kwok, which answers them from the objects of CRDS.
        f"--node-port={server_port}",
        f"--enable-crds={','.join(crds)}",
        "--node-lease-duration-seconds=40",
    ]


def stage_config(defaults: str, ours: str) -> str:
    """kwok's default stages with subkube's own in place of those of the same name."""
    upstream, own = _stages(defaults), _stages(ours)
    missing = [name for name in REPLACED_STAGES if name not in upstream]
    if missing:
        raise SubkubeError(
            f"kwok's default stages lack {', '.join(missing)}, which subkube replaces; adapt "
            "src/subkube/hostcluster/job-stages.yaml to this kwok version"
        )
    kept = [doc for name, doc in upstream.items() if name not in own]
    return "\n---\n".join([*kept, *own.values()]) + "\n"


def _stages(text: str) -> dict[str, str]:
    """Stage name -> its YAML document as written (so kwok's templates stay readable)."""
    docs = (d.strip() for d in re.split(r"^---[ \t]*$", text, flags=re.M))
    return {str(yaml.safe_load(d)["metadata"]["name"]): d for d in docs if d}


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
