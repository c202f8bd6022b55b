"""A vcluster's store read consistently while it runs, and put back before it starts.

All paths are inside the control plane's data dir (`<vcluster data>/controlplane`).
"""

import asyncio
import fcntl
import json
import os
import shutil
import sqlite3
from pathlib import Path

from subkube.aio import run_command
from subkube.binaries.catalog import locate
from subkube.config.model import Config
from subkube.controlplane import etcd, kine
from subkube.controlplane.spec import ControlPlaneSpec, Store, assign_ports
from subkube.errors import SubkubeError
from subkube.snapshot.archive import Capture

ETCD_TIMEOUT = 300.0


def store_kind(config: Config) -> Store:
    """The store subkube runs for CONFIG; an external one is refused: subkube does not own it,
    so neither a consistent copy of it nor putting one back is subkube's to do."""
    chosen = config.controlPlane.backingStore.chosen
    if chosen.endswith(".external"):
        raise SubkubeError(
            f"controlPlane.backingStore.{chosen} is a store subkube does not run: snapshot and "
            "restore it with that database's own tools"
        )
    return "etcd" if chosen == "etcd.embedded" else "kine"


def _never_started(cp_dir: Path) -> SubkubeError:
    return SubkubeError(f"no store in {cp_dir}: the vcluster has never started")


def _copy_sqlite(db: Path, out: Path) -> None:
    # One backup step copies every page inside one read transaction: a consistent database
    # even while kine writes (WAL mode lets readers and the writer proceed together).
    src = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


async def capture_kine(cp_dir: Path, out: Path) -> Capture:
    db = kine.db_path(cp_dir)
    if not db.is_file():
        raise _never_started(cp_dir)
    try:
        await asyncio.to_thread(_copy_sqlite, db, out)
    except sqlite3.Error as exc:
        raise SubkubeError(f"reading the kine store {db} failed ({exc})") from exc
    return "copy"


def _etcd_db(cp_dir: Path) -> Path:
    return etcd.store_dir(cp_dir) / "member" / "snap" / "db"


async def _run(argv: list[str], what: str) -> None:
    await run_command(argv, what, timeout=ETCD_TIMEOUT)


async def capture_etcd(cp_dir: Path, out: Path) -> Capture:
    """etcd's snapshot of the running member; the db file of a stopped one.

    Which one is told by the db file's lock: a running etcd holds it exclusively (bbolt), and
    the shared lock held while copying keeps the member from starting halfway through."""
    db = _etcd_db(cp_dir)
    if not db.is_file():
        raise _never_started(cp_dir)
    with db.open("rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            running = True
        else:
            running = False
            await asyncio.to_thread(shutil.copyfile, db, out)
    if not running:
        return "copy"
    try:
        port = int(json.loads((cp_dir / "ports.json").read_text())["store"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SubkubeError(f"etcd runs on {cp_dir} but its port is not recorded ({exc})") from exc
    await _run(
        [
            str(locate("etcdctl")),
            f"--endpoints=http://127.0.0.1:{port}",
            "--dial-timeout=5s",
            f"--command-timeout={ETCD_TIMEOUT:.0f}s",
            "snapshot",
            "save",
            str(out),
        ],
        "etcdctl snapshot save",
    )
    return "snapshot"


async def capture(kind: Store, cp_dir: Path, out: Path) -> Capture:
    """Write a consistent copy of the store of KIND in CP_DIR to OUT; how it was read."""
    if kind == "kine":
        return await capture_kine(cp_dir, out)
    return await capture_etcd(cp_dir, out)


def restore_kine(cp_dir: Path, db_file: Path) -> None:
    """Replace kine's database with DB_FILE (the store must not be running)."""
    db = kine.db_path(cp_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    # A write-ahead log left by the replaced database would be replayed onto the new one.
    for stale in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    os.replace(db_file, db)


async def restore_etcd(spec: ControlPlaneSpec, db_file: Path, capture: Capture) -> None:
    """Make a fresh member data dir from DB_FILE under the name and peer URL the control plane
    of SPEC will start etcd with, and swap it in (the store must not be running)."""
    cp_dir = spec.data_dir
    target = etcd.store_dir(cp_dir)
    fresh = target.with_name(target.name + ".restoring")
    replaced = target.with_name(target.name + ".replaced")
    # Left over by an interrupted restore (the pending archive is still there to redo it).
    for leftover in (fresh, replaced):
        shutil.rmtree(leftover, ignore_errors=True)
    # The ports the control plane will start with: the remembered ones while they are free.
    peer = etcd.peer_url(assign_ports(spec)["store_peer"])
    argv = [
        str(locate("etcdutl")),
        "snapshot",
        "restore",
        str(db_file),
        f"--name={spec.name}",
        f"--data-dir={fresh}",
        f"--initial-cluster={spec.name}={peer}",
        f"--initial-advertise-peer-urls={peer}",
    ]
    if capture == "copy":
        # A db file copied from a data dir carries no snapshot hash to check.
        argv.append("--skip-hash-check")
    await _run(argv, "etcdutl snapshot restore")
    if target.exists():
        target.rename(replaced)
    fresh.rename(target)
    shutil.rmtree(replaced, ignore_errors=True)
