"""Running inside a pod of the host: a host kubeconfig from the pod's service account."""

import os
from pathlib import Path

from subkube.controlplane import kubeconfig
from subkube.errors import SubkubeError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def service_account_dir() -> Path:
    """Where the pod's token is mounted: the kubelet's path, or where a runtime that is not
    a kubelet (the local host's) put it."""
    return Path(os.environ.get("SUBKUBE_SERVICE_ACCOUNT_DIR") or SA_DIR)


def write_host_kubeconfig(dest: Path, sa_dir: Path | None = None) -> Path:
    """A kubeconfig that reads the pod's (rotating) token file, so it never goes stale."""
    sa_dir = sa_dir or service_account_dir()
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (sa_dir / "token").exists():
        raise SubkubeError(
            "--in-cluster needs to run in a pod with a service-account token "
            "(KUBERNETES_SERVICE_HOST unset or no token mounted)"
        )
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return kubeconfig.write(
        dest,
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "host",
                    "cluster": {"server": server, "certificate-authority": str(sa_dir / "ca.crt")},
                }
            ],
            "users": [{"name": "host", "user": {"tokenFile": str(sa_dir / "token")}}],
            "contexts": [
                {
                    "name": "host",
                    "context": {
                        "cluster": "host",
                        "user": "host",
                        "namespace": (sa_dir / "namespace").read_text().strip()
                        if (sa_dir / "namespace").exists()
                        else "default",
                    },
                }
            ],
            "current-context": "host",
        },
    )
