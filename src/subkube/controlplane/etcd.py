"""etcd, for users who ask for it instead of kine."""

from pathlib import Path


def argv(
    binary: Path, data_dir: Path, name: str, port: int, peer_port: int, metrics_port: int
) -> list[str]:
    client = f"http://127.0.0.1:{port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(binary),
        f"--name={name}",
        f"--data-dir={data_dir / 'etcd'}",
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


def health_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/health"
