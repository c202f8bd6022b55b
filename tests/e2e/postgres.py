"""A real PostgreSQL server for tests: Debian's binaries (`make setup` installs them) over a
temp data dir, on a free loopback port, stopped however the test ends."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from subkube.controlplane.ports import free_port
from subkube.controlplane.process import die_with_parent

USER = "subkube"
PASSWORD = "pg-secret-7d1e9c"


def bin_dir() -> Path:
    """Where Debian's newest PostgreSQL keeps its binaries (not on PATH there)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run `make setup`"
        )
    return Path(found[-1]).parent


def server_user() -> pwd.struct_passwd | None:
    """Who runs the server: postgres refuses root, so as root the Debian package's own user
    (or nobody); anyone else runs it as themselves (None)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    pytest.fail("running as root, and neither user postgres nor nobody exists to run PostgreSQL")


@dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    port: int

    def dsn(self, database: str, password: str = PASSWORD) -> str:
        return f"postgres://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> list[list[str]]:
        """Rows of SQL's answer, as psql (over TCP, with the password) prints them."""
        out = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-c",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, f"psql {sql!r}: {out.stderr}"
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[Postgres]:
    """A PostgreSQL server whose superuser USER has PASSWORD; logs in ROOT."""
    binaries = bin_dir()
    owner = server_user()
    # The data dir cannot be under pytest's temp dir when the server runs as another user:
    # that dir is private to us (0700).
    data_root = Path(tempfile.mkdtemp(prefix="subkube-postgres-"))
    as_owner: dict[str, Any] = {}
    if owner is not None:
        os.chown(data_root, owner.pw_uid, owner.pw_gid)
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    pwfile = data_root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    # No locale from the environment: a CI machine may not have the one LANG names.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    log_path = root / "postgres.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run(
            [
                str(binaries / "initdb"),
                "--pgdata",
                str(data_root / "data"),
                "--username",
                USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--locale=C",
                "--encoding=UTF8",
                "--no-sync",
            ],
            cwd=data_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            **as_owner,
        )
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stdout}{init.stderr}")
        port = free_port()
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [
                    str(binaries / "postgres"),
                    "-D",
                    str(data_root / "data"),
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    # A throw-away database: durability only costs time here.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                cwd=data_root,
                # The session's sweep (tests/conftest.py) finds leftovers by the temp dir.
                env={**env, "SUBKUBE_TEST_ROOT": str(root)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # The server dies with us even if we are SIGKILLed: no orphan keeps the port.
                preexec_fn=die_with_parent(os.getpid()),
                **as_owner,
            )
        server = Postgres(binaries, port)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"postgres exited ({proc.returncode}): {log_path.read_text()}")
            ready = subprocess.run(
                [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                env=env,
                check=False,
                timeout=30,
            )
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"postgres did not accept connections within 60s: {log_path}")
            time.sleep(0.2)
        yield server
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(data_root, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: clients such as a kine still running are disconnected, not
    waited for), then SIGKILL to the whole group if it takes too long."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
