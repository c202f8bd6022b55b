"""kine: an etcd API in front of SQLite (the default store)."""

from pathlib import Path


def db_path(data_dir: Path) -> Path:
    """Kine's SQLite database in a control plane's data dir (snapshots read and replace it)."""
    return data_dir / "kine" / "state.db"


def argv(
    binary: Path, data_dir: Path, port: int, metrics_port: int, datasource: str = ""
) -> list[str]:
    db = db_path(data_dir)
    # The same SQLite options kine uses for its own default database.
    dsn = datasource or (
        f"sqlite://{db}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
    )
    return [
        str(binary),
        f"--endpoint={dsn}",
        f"--listen-address=127.0.0.1:{port}",
        f"--metrics-bind-address=127.0.0.1:{metrics_port}",
    ]
