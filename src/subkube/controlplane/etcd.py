"""etcd, for users who ask for it instead of kine."""

from pathlib import Path


def store_dir(data_dir: Path) -> Path:
    """etcd's own data dir inside a control plane's (snapshots read and replace it)."""
    return data_dir / "etcd"


def argv(
    binary: Path, data_dir: Path, name: str, port: int, peer_port: int, metrics_port: int
) -> list[str]:
    client = f"http://127.0.0.1:{port}"
    peer = peer_url(peer_port)
    return [
        str(binary),
        f"--name={name}",
        f"--data-dir={store_dir(data_dir)}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
        f"--listen-metrics-urls=http://127.0.0.1:{metrics_port}",
        "--auto-compaction-retention=1",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]


def peer_url(peer_port: int) -> str:
    """The member's peer URL, which a restored data dir must record as this member's."""
    return f"http://127.0.0.1:{peer_port}"


def health_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/health"
