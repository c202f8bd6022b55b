"""controlPlane.backingStore.database.external: how the datasource is checked, handed to
kine, kept out of command lines and shown redacted; and how a database kine cannot reach
fails in one line."""

import subprocess
from pathlib import Path

import pytest

from subkube.config.load import load, validate
from subkube.config.model import redact_datasource, redacted
from subkube.controlplane import kine
from subkube.controlplane.health import ComponentFailed, wait_tcp
from subkube.controlplane.ports import free_port
from subkube.controlplane.process import Process
from subkube.daemonize import DaemonState, wait_running
from subkube.errors import SubkubeError
from subkube.runner.vcluster import store_of

DSN = "postgres://kine:hunter2@db.example:5432/vc1?sslmode=verify-full"


def external(dsn: str) -> dict[str, object]:
    return {
        "controlPlane": {
            "backingStore": {"database": {"external": {"enabled": True, "dataSource": dsn}}}
        }
    }


def test_the_datasource_reaches_kine_through_its_environment_only() -> None:
    spec = store_of(validate(external(DSN)))
    assert spec == {"store": "kine", "kine_datasource": DSN}
    argv = kine.argv(Path("/bin/kine"), Path("/data"), 2379, 2380, spec["kine_datasource"])
    assert not any("hunter2" in arg or arg.startswith("--endpoint") for arg in argv)
    assert kine.env(DSN) == {"KINE_ENDPOINT": DSN}
    # The default store: kine's own SQLite file, named on the command line as before.
    assert kine.env() == {}
    assert kine.argv(Path("/bin/kine"), Path("/data"), 1, 2)[1].startswith(
        "--endpoint=sqlite:///data/kine/state.db?"
    )


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (DSN, "postgres://kine:***@db.example:5432/vc1?sslmode=verify-full"),
        ("postgres://kine:p@ss/w0rd@db:5432/vc1", "postgres://kine:***@db:5432/vc1"),
        ("mysql://root:pw@tcp(db:3306)/vc1", "mysql://root:***@tcp(db:3306)/vc1"),
        (
            "postgres://db:5432/vc1?user=kine&password=pw&sslmode=disable",
            "postgres://db:5432/vc1?user=kine&password=***&sslmode=disable",
        ),
        ("postgres://kine@db/vc1", "postgres://kine@db/vc1"),
        ("sqlite:///var/lib/vc1.db?_journal=WAL", "sqlite:///var/lib/vc1.db?_journal=WAL"),
    ],
)
def test_datasources_are_shown_without_their_password(dsn: str, shown: str) -> None:
    assert redact_datasource(dsn) == shown


def test_a_config_is_shown_with_its_datasource_redacted() -> None:
    values = {**external(DSN), "sync": {"toHost": {"pods": {"enabled": True}}}}
    out = redacted(values)
    assert out["controlPlane"]["backingStore"]["database"]["external"] == {
        "enabled": True,
        "dataSource": "postgres://kine:***@db.example:5432/vc1?sslmode=verify-full",
    }
    assert out["sync"] == values["sync"]
    assert values == {**external(DSN), "sync": {"toHost": {"pods": {"enabled": True}}}}
    assert redacted({}) == {}
    assert redacted({"controlPlane": None}) == {"controlPlane": None}
    assert "hunter2" not in repr(validate(external(DSN)))


@pytest.mark.parametrize("dsn", ["postgress://kine:hunter2@db/vc1", "kine:hunter2@db:5432/vc1"])
def test_a_datasource_kine_cannot_use_is_refused_without_echoing_it(dsn: str) -> None:
    with pytest.raises(SubkubeError) as info:
        validate(external(dsn))
    message = str(info.value)
    assert "controlPlane.backingStore.database.external.dataSource: must start with" in message
    assert "postgres://" in message
    assert "hunter2" not in message


def test_an_enabled_external_database_needs_a_datasource() -> None:
    with pytest.raises(SubkubeError, match=r"database\.external needs a dataSource"):
        load(sets=["controlPlane.backingStore.database.external.enabled=true"])


# What kine 0.17 writes while it cannot reach PostgreSQL (colours and all).
UNREACHABLE = (
    "\x1b[33mWARN\x1b[0m[2026-01-01T00:00:00Z] failed to ensure existence of database "
    "postgres: unable to connect to default postgres database: failed to connect to "
    "`user=kine database=postgres`:\n"
    "\t127.0.0.1:1 (127.0.0.1): dial error: dial tcp 127.0.0.1:1: connect: connection refused\n"
    "\t127.0.0.1:1 (127.0.0.1): dial error: dial tcp 127.0.0.1:1: connect: connection refused \n"
    "\x1b[31mERRO\x1b[0m[2026-01-01T00:00:00Z] Failed to ping database connection: failed to "
    "connect to `user=kine database=vc1`:\n"
    "\t127.0.0.1:1 (127.0.0.1): dial error: dial tcp 127.0.0.1:1: connect: connection refused\n"
    "\t127.0.0.1:1 (127.0.0.1): dial error: dial tcp 127.0.0.1:1: connect: connection refused \n"
)
REASON = (
    "failed to connect to `user=kine database=vc1`: 127.0.0.1:1 (127.0.0.1): dial error: "
    "dial tcp 127.0.0.1:1: connect: connection refused"
)


def test_kines_last_failure_to_reach_its_database_is_one_line() -> None:
    assert kine.database_error(UNREACHABLE) == REASON
    assert kine.database_error(UNREACHABLE * 3) == REASON
    # Once kine has logged anything after it, it got past the failure.
    later = "\x1b[36mINFO\x1b[0m[2026-01-01T00:00:05Z] Configuring database table schema\n"
    assert kine.database_error(UNREACHABLE + later) == ""
    assert kine.database_error(later) == ""


async def test_a_database_kine_cannot_reach_fails_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for kine that fails as kine does and never listens.
    monkeypatch.setattr(kine, "DATABASE_GRACE", 0.0)
    script = tmp_path / "fake-kine"
    script.write_text(UNREACHABLE)
    proc = Process("kine", ["sh", "-c", f"cat {script}; sleep 30"], tmp_path / "kine.log")
    check = kine.database_check(proc)
    await proc.start()
    try:
        with pytest.raises(ComponentFailed) as info:
            await wait_tcp(proc, "127.0.0.1", free_port(), timeout=60, check=check)
    finally:
        await proc.stop(grace=1)
    message = str(info.value)
    assert message == (
        "kine cannot reach its database (controlPlane.backingStore.database.external."
        f"dataSource): {REASON} (log: {tmp_path / 'kine.log'})"
    )


def test_a_runner_that_recorded_its_failure_and_exited_fails_in_one_line(tmp_path: Path) -> None:
    # The CLI saw the runner start, and looks again only after it has recorded the error
    # and exited (its last save clears the pid): the recorded error is what it reports.
    exited = subprocess.Popen(["true"])
    exited.wait()
    states = [
        DaemonState("vc", phase="Starting", pid=exited.pid),
        DaemonState("vc", phase="Failed", pid=None, error="kine cannot reach its database"),
    ]

    def load() -> DaemonState:
        return states.pop(0) if len(states) > 1 else states[0]

    with pytest.raises(SubkubeError) as info:
        wait_running(load, "vcluster ns/vc", exited.pid, tmp_path / "log", 30, proc=exited)
    assert str(info.value) == "vcluster ns/vc failed to start: kine cannot reach its database"
