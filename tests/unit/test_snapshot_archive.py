"""The archive format, the kine store's capture and restore, the pending restore and the
scheduled task, on plain SQLite files (kine's own store is SQLite; no binaries run here)."""

import datetime as dt
import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from subkube.config.model import Config
from subkube.controlplane import kine
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.errors import SubkubeError
from subkube.snapshot import archive, pending
from subkube.snapshot.archive import Metadata
from subkube.snapshot.capture import capture, fetch, take
from subkube.snapshot.scheduled import ScheduledSnapshots
from subkube.snapshot.store import store_kind
from tests.stepclock import StepClock

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
ETCD = Config.model_validate(
    {"controlPlane": {"backingStore": {"etcd": {"embedded": {"enabled": True}}}}}
)


def kine_store(cp_dir: Path, rows: list[str]) -> Path:
    """A SQLite database where kine keeps it, in kine's WAL mode."""
    db = kine.db_path(cp_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = writer(db)
    conn.execute("CREATE TABLE IF NOT EXISTS kv (name TEXT)")
    conn.executemany("INSERT INTO kv VALUES (?)", [(r,) for r in rows])
    conn.commit()
    conn.close()
    return db


def writer(db: Path) -> sqlite3.Connection:
    """A connection as kine holds one: while it is open, what it commits stays in the WAL."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def rows_of(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM kv ORDER BY rowid")]


def metadata(**over: str) -> Metadata:
    base = {
        "vcluster": "vc1",
        "namespace": "team-a",
        "store": "kine",
        "capture": "copy",
        "created": T0.isoformat(),
        "subkube_version": "0.1.0",
        "kubernetes_version": "v1.35.4",
    }
    return Metadata(**{**base, **over})  # type: ignore[arg-type]


def test_archive_round_trip(tmp_path: Path) -> None:
    store_file = tmp_path / "db"
    store_file.write_bytes(b"store bytes" * 1000)
    config = Config.model_validate({"networking": {"clusterDomain": "example.local"}})
    out = tmp_path / "a.tar.gz"
    with out.open("wb") as fh:
        archive.write(fh, metadata(), config, store_file)
    with tarfile.open(out) as tar:
        assert tar.getnames() == ["metadata.json", "config.json", "store/kine.db"]
        assert all(m.mode == 0o600 for m in tar.getmembers())
    snap = archive.inspect(out)
    assert snap.metadata == metadata()
    assert snap.config.networking.clusterDomain == "example.local"
    assert archive.extract_store(out, tmp_path / "back") == metadata()
    assert (tmp_path / "back").read_bytes() == store_file.read_bytes()


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"config.json": b"{}", "store/kine.db": b""}, "not a subkube snapshot (no metadata.json"),
        (
            {"metadata.json": json.dumps({**metadata().__dict__, "format": 9}).encode()},
            "has snapshot format 9, newer than this subkube reads (1): upgrade subkube",
        ),
        ({"metadata.json": b"[]"}, "not a subkube snapshot (bad metadata.json"),
        (
            {"metadata.json": metadata().to_json().encode(), "config.json": b"{}"},
            "it holds no store",
        ),
        (
            {
                "metadata.json": metadata().to_json().encode(),
                "config.json": b'{"sync": {"nope": 1}}',
                "store/kine.db": b"",
            },
            "holds a config this subkube cannot read (sync.nope",
        ),
    ],
)
def test_bad_archives_are_one_line(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    path = _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(SubkubeError) as info:
        archive.inspect(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_file_that_is_no_archive_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_text("hello")
    with pytest.raises(SubkubeError, match=r"is not a subkube snapshot \(not a tar\.gz"):
        archive.inspect(path)


@pytest.mark.parametrize(
    ("backing", "chosen"),
    [
        ({"database": {"external": {"enabled": True, "dataSource": "postgres://x"}}}, "database"),
        ({"etcd": {"external": {"enabled": True, "endpoint": "https://etcd:2379"}}}, "etcd"),
    ],
)
def test_external_stores_are_refused_with_the_reason(backing: dict, chosen: str) -> None:
    config = Config.model_validate({"controlPlane": {"backingStore": backing}})
    with pytest.raises(SubkubeError, match=rf"backingStore.{chosen}.external is a store subkube"):
        store_kind(config)
    assert store_kind(Config()) == "kine"
    assert store_kind(ETCD) == "etcd"


async def test_kine_capture_is_consistent_and_restores_into_a_new_data_dir(tmp_path: Path) -> None:
    src = tmp_path / "src"
    db = kine_store(src, ["a"])
    running = writer(db)
    running.execute("INSERT INTO kv VALUES ('b')")
    running.commit()
    assert db.with_name("state.db-wal").stat().st_size > 0, "b is in the WAL only"
    out = tmp_path / "snap.tar.gz"
    try:
        with out.open("wb") as fh:
            meta = await capture(src, Config(), vcluster="vc1", namespace="team-a", out=fh, now=T0)
    finally:
        running.close()
    assert (meta.store, meta.capture, meta.created) == ("kine", "copy", T0.isoformat())
    assert not list(src.glob(".snapshot-*")), "the scratch copy is removed"

    dest = tmp_path / "dest"
    # An old store with a write-ahead log of its own, which must not be replayed onto the new.
    kine_store(dest, ["old"])
    pending.stage(out, dest, Config())
    spec = ControlPlaneSpec(name="vc2", data_dir=dest)
    assert await pending.apply(spec) == meta
    assert rows_of(kine.db_path(dest)) == ["a", "b"]
    assert not pending.pending_path(dest).exists()
    assert await pending.apply(spec) is None, "applied once"


async def test_a_pending_restore_must_match_the_store(tmp_path: Path) -> None:
    kine_store(tmp_path / "src", ["a"])
    out = tmp_path / "snap.tar.gz"
    with out.open("wb") as fh:
        await capture(tmp_path / "src", Config(), vcluster="vc1", namespace="team-a", out=fh)
    with pytest.raises(SubkubeError, match="holds a kine store but the vcluster runs etcd"):
        pending.stage(out, tmp_path / "dest", ETCD)
    assert not pending.pending_path(tmp_path / "dest").exists()


async def test_capture_of_a_vcluster_that_never_started(tmp_path: Path) -> None:
    (tmp_path / "cp").mkdir()
    with pytest.raises(SubkubeError, match="has never started"):
        await capture(tmp_path / "cp", Config(), vcluster="v", namespace="n", out=io.BytesIO())


async def test_take_and_fetch_through_a_file_url(tmp_path: Path) -> None:
    kine_store(tmp_path / "cp", ["a"])
    loc = await take(
        tmp_path / "cp",
        Config(),
        vcluster="vc1",
        namespace="ns",
        to=f"file://{tmp_path}/out/",
        now=T0,
    )
    assert str(loc) == f"file://{tmp_path}/out/vc1.ns.20260501T120000Z.tar.gz"
    got = await fetch(str(loc), tmp_path)
    assert archive.inspect(got).metadata.vcluster == "vc1"
    with pytest.raises(SubkubeError, match=r"^no snapshot at file://.*/missing\.tar\.gz$"):
        await fetch(f"file://{tmp_path}/missing.tar.gz", tmp_path)


async def test_scheduled_snapshots_fire_on_time_and_keep_the_newest(tmp_path: Path) -> None:
    kine_store(tmp_path / "cp", ["a"])
    out = tmp_path / "out"
    config = Config.model_validate(
        {"snapshots": {"schedule": "0 * * * *", "to": f"file://{out}", "keep": 2}}
    )
    (out).mkdir()
    (out / "notes.txt").write_text("not a snapshot")
    clock = StepClock(T0 + dt.timedelta(minutes=30))
    task = ScheduledSnapshots(tmp_path / "cp", config, vcluster="vc1", namespace="ns", clock=clock)
    task.start()
    try:
        for nap, hour in enumerate((13, 14, 15), start=1):
            await clock.asleep(nap)
            await clock.advance_to(T0.replace(hour=hour, second=20))
        await clock.asleep(4)
    finally:
        await task.stop()
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.txt",
        "vc1.ns.20260501T140000Z.tar.gz",
        "vc1.ns.20260501T150000Z.tar.gz",
    ]
