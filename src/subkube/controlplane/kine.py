"""kine: an etcd API in front of SQLite (the default store) or a database of the user's."""

import re
import time
from collections.abc import Callable
from pathlib import Path

from subkube.controlplane.health import ComponentFailed
from subkube.controlplane.process import Process

# kine retries a database it cannot reach for five minutes before it gives up, and listens
# only once it has. A wrong datasource should fail sooner than that; a database started at
# the same time as the vcluster (one chart release with both) still gets this long.
DATABASE_GRACE = 10.0

_PING_FAILED = "Failed to ping database connection: "
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def db_path(data_dir: Path) -> Path:
    """Kine's SQLite database in a control plane's data dir (snapshots read and replace it)."""
    return data_dir / "kine" / "state.db"


def argv(
    binary: Path, data_dir: Path, port: int, metrics_port: int, datasource: str = ""
) -> list[str]:
    flags = [
        f"--listen-address=127.0.0.1:{port}",
        f"--metrics-bind-address=127.0.0.1:{metrics_port}",
    ]
    if datasource:
        # An external datasource goes in the environment (env()): it usually holds a
        # password, and a command line is readable by every user (ps) and is written at
        # the top of the component's log, whose tail error messages show.
        return [str(binary), *flags]
    # The same SQLite options kine uses for its own default database.
    db = db_path(data_dir)
    dsn = f"sqlite://{db}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
    return [str(binary), f"--endpoint={dsn}", *flags]


def env(datasource: str = "") -> dict[str, str]:
    """The environment kine needs besides ours: the external datasource, if there is one
    (kine reads --endpoint from KINE_ENDPOINT)."""
    return {"KINE_ENDPOINT": datasource} if datasource else {}


def database_error(log_text: str) -> str:
    """Why kine cannot reach its database, as one line, if the last thing it logged in
    LOG_TEXT is a failed attempt (one multi-line record each); else "" (it never failed, or
    has got past it)."""
    at = log_text.rfind(_PING_FAILED)
    if at < 0:
        return ""
    lines = _ANSI.sub("", log_text[at + len(_PING_FAILED) :]).splitlines()
    record = [lines[0].strip()]
    for line in lines[1:]:
        if not line.startswith("\t"):
            return ""
        # The same failure once per address tried: said once is enough.
        if line.strip() not in record:
            record.append(line.strip())
    return " ".join(part for part in record if part)


def database_check(kine_proc: Process) -> Callable[[], None]:
    """While kine starts on an external database: fail, in one line, once kine has not
    reached its database for DATABASE_GRACE seconds (it would retry for five minutes)."""
    log_path = kine_proc.log_path
    start = log_path.stat().st_size if log_path.exists() else 0
    failing_since: float | None = None

    def check() -> None:
        nonlocal failing_since
        try:
            with log_path.open("rb") as fh:
                fh.seek(start)
                text = fh.read().decode(errors="replace")
        except OSError:
            return
        reason = database_error(text)
        if not reason:
            failing_since = None
            return
        now = time.monotonic()
        if failing_since is None:
            failing_since = now
        if now - failing_since >= DATABASE_GRACE:
            raise ComponentFailed(
                kine_proc.name,
                "cannot reach its database "
                f"(controlPlane.backingStore.database.external.dataSource): {reason}",
                "",
                str(log_path),
            )

    return check
