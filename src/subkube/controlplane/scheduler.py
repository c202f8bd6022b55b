"""kube-scheduler (host clusters only: a vcluster's pods are scheduled by its host)."""

from pathlib import Path


def flags(
    *, kubeconfig: Path, port: int, cert_dir: Path, leader_elect: bool = False
) -> dict[str, str]:
    return {
        "kubeconfig": str(kubeconfig),
        "authentication-kubeconfig": str(kubeconfig),
        "authorization-kubeconfig": str(kubeconfig),
        "bind-address": "127.0.0.1",
        "secure-port": str(port),
        "cert-dir": str(cert_dir),
        "leader-elect": str(leader_elect).lower(),
        "profiling": "false",
        "v": "1",
    }


def health_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/healthz"
