"""etcd, for users who ask for it instead of kine, and as a cluster across a vcluster's
replicas (controlPlane.highAvailability)."""

from dataclasses import dataclass
from pathlib import Path

# What members of a cluster listen on for their peers, each on its own pod's address.
PEER_PORT = 2380


@dataclass(frozen=True)
class Cluster:
    """This member's place in a cluster of MEMBERS (name -> peer URL), reached by its peers
    at MEMBERS[name] and listening on LISTEN_IP, with peer TLS from the vcluster's CA."""

    members: dict[str, str]
    listen_ip: str
    token: str
    ca: Path
    cert: Path
    key: Path


def store_dir(data_dir: Path) -> Path:
    """etcd's own data dir inside a control plane's (snapshots read and replace it)."""
    return data_dir / "etcd"


def argv(
    binary: Path,
    data_dir: Path,
    name: str,
    port: int,
    peer_port: int,
    metrics_port: int,
    cluster: Cluster | None = None,
) -> list[str]:
    client = f"http://127.0.0.1:{port}"
    common = [
        str(binary),
        f"--name={name}",
        f"--data-dir={store_dir(data_dir)}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-metrics-urls=http://127.0.0.1:{metrics_port}",
        "--auto-compaction-retention=1",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]
    if cluster is None:
        peer = peer_url(peer_port)
        return [
            *common,
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={name}={peer}",
        ]
    ip = f"[{cluster.listen_ip}]" if ":" in cluster.listen_ip else cluster.listen_ip
    return [
        *common,
        f"--listen-peer-urls=https://{ip}:{PEER_PORT}",
        f"--initial-advertise-peer-urls={cluster.members[name]}",
        "--initial-cluster=" + ",".join(f"{n}={u}" for n, u in sorted(cluster.members.items())),
        f"--initial-cluster-token={cluster.token}",
        # Ignored once the member has data: a restarted member rejoins with what it has.
        "--initial-cluster-state=new",
        f"--peer-trusted-ca-file={cluster.ca}",
        f"--peer-cert-file={cluster.cert}",
        f"--peer-key-file={cluster.key}",
        "--peer-client-cert-auth",
    ]


def peer_url(peer_port: int) -> str:
    """The member's peer URL, which a restored data dir must record as this member's."""
    return f"http://127.0.0.1:{peer_port}"


def member_url(host: str) -> str:
    return f"https://{host}:{PEER_PORT}"


def health_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/health"
