"""kube-controller-manager."""

from pathlib import Path

from subkube.controlplane.pki import PKI


def flags(
    *,
    pki: PKI,
    kubeconfig: Path,
    port: int,
    cert_dir: Path,
    service_cidr: str,
    cluster_cidr: str,
    controllers: list[str],
    name: str,
    allocate_node_cidrs: bool = True,
    leader_elect: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    f = {
        "kubeconfig": str(kubeconfig),
        "authentication-kubeconfig": str(kubeconfig),
        "authorization-kubeconfig": str(kubeconfig),
        "bind-address": "127.0.0.1",
        "secure-port": str(port),
        "cert-dir": str(cert_dir),
        "cluster-name": name,
        "leader-elect": str(leader_elect).lower(),
        "use-service-account-credentials": "true",
        "service-account-private-key-file": str(pki.sa_private),
        "root-ca-file": str(pki.ca.cert),
        "cluster-signing-cert-file": str(pki.ca.cert),
        "cluster-signing-key-file": str(pki.ca.key),
        "service-cluster-ip-range": service_cidr,
        # Nodes get a podCIDR each, from which kwok hands out pod IPs.
        "allocate-node-cidrs": "true" if allocate_node_cidrs else "false",
        "cluster-cidr": cluster_cidr,
        "controllers": ",".join(controllers),
        "profiling": "false",
        "v": "1",
    }
    f.update(extra or {})
    return f


def health_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/healthz"
