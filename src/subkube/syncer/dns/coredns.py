"""CoreDNS inside the vcluster: its pods are synced like any other, so tenant pods get DNS
for their virtual Services on a real host."""

from typing import Any

from subkube.syncer.names import LABEL_NAMESPACE, host_labels

Obj = dict[str, Any]

NAMESPACE = "kube-system"
SERVICE = "kube-dns"
IMAGE = "coredns/coredns:1.12.1"
LABELS = {"k8s-app": "kube-dns"}


def host_selector(vcluster: str) -> str:
    """The label selector of VCLUSTER's DNS pods on the host (see host_ip)."""
    labels = host_labels(LABELS, vcluster=vcluster, namespace=NAMESPACE)
    return ",".join(f"{k}={v}" for k, v in labels.items())


def host_ip(host_pod: Obj) -> str | None:
    """The address of HOST_POD if it is one of the vcluster's DNS pods on the host: they
    watch the virtual API as any client does, but it is subkube's traffic, not a tenant's."""
    labels = host_pod.get("metadata", {}).get("labels") or {}
    if labels.get(LABEL_NAMESPACE) != NAMESPACE or any(
        labels.get(k) != v for k, v in LABELS.items()
    ):
        return None
    return host_pod.get("status", {}).get("podIP") or None


def corefile(cluster_domain: str) -> str:
    return f""".:53 {{
    errors
    health
    ready
    kubernetes {cluster_domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}}
"""


def manifests(cluster_domain: str = "cluster.local") -> list[tuple[str, Obj]]:
    """(plural, object) pairs, in the order they must be created."""
    labels = LABELS
    return [
        (
            "serviceaccounts",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "coredns", "namespace": NAMESPACE},
            },
        ),
        (
            "clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "system:coredns"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["endpoints", "services", "pods", "namespaces"],
                        "verbs": ["list", "watch"],
                    },
                    {
                        "apiGroups": ["discovery.k8s.io"],
                        "resources": ["endpointslices"],
                        "verbs": ["list", "watch"],
                    },
                ],
            },
        ),
        (
            "clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "system:coredns"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:coredns",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": NAMESPACE}],
            },
        ),
        (
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "coredns", "namespace": NAMESPACE},
                "data": {"Corefile": corefile(cluster_domain)},
            },
        ),
        (
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "coredns", "namespace": NAMESPACE, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "serviceAccountName": "coredns",
                            "dnsPolicy": "Default",
                            # Within restricted, the strictest Pod Security Standard: the
                            # syncer holds the vcluster's own pods to its level too.
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 65532,
                                "runAsGroup": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [
                                {
                                    "name": "coredns",
                                    "image": IMAGE,
                                    "args": ["-conf", "/etc/coredns/Corefile"],
                                    "ports": [
                                        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                        {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    ],
                                    "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}},
                                    # Port 53 as a non-root user: the image's binary
                                    # carries the file capability.
                                    "securityContext": {
                                        "allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {
                                            "add": ["NET_BIND_SERVICE"],
                                            "drop": ["ALL"],
                                        },
                                    },
                                    "volumeMounts": [
                                        {"name": "config", "mountPath": "/etc/coredns"}
                                    ],
                                }
                            ],
                            "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                        },
                    },
                },
            },
        ),
        (
            "services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": labels},
                "spec": {
                    "selector": labels,
                    "ports": [
                        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    ],
                },
            },
        ),
    ]
