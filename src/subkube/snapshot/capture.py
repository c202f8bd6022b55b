"""A snapshot taken: the store read consistently, with the config, into an archive, and the
archive sent where it was asked to go."""

import datetime as dt
import tempfile
from pathlib import Path
from typing import BinaryIO

import subkube
from subkube.binaries.pins import load_pins
from subkube.config.model import Config
from subkube.errors import SubkubeError
from subkube.snapshot import archive, store
from subkube.snapshot.archive import Metadata
from subkube.snapshot.retention import archive_name
from subkube.snapshot.transfer import Destination
from subkube.snapshot.urls import Location, S3Settings, parse


def _scratch(cp_dir: Path) -> tempfile.TemporaryDirectory[str]:
    # Beside the store, on its file system: room for a copy of it is likelier there than in
    # /tmp (a small tmpfs, or a pod's container layer).
    if not cp_dir.is_dir():
        raise SubkubeError(f"no store in {cp_dir}: the vcluster has never started")
    return tempfile.TemporaryDirectory(dir=cp_dir, prefix=".snapshot-")


async def capture(
    cp_dir: Path,
    config: Config,
    *,
    vcluster: str,
    namespace: str,
    out: BinaryIO,
    now: dt.datetime | None = None,
) -> Metadata:
    """Write an archive of the store in CP_DIR (a control plane's data dir, running or not)
    and CONFIG to OUT, a file or a pipe."""
    kind = store.store_kind(config)
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with _scratch(cp_dir) as tmp:
        db = Path(tmp) / "store.db"
        how = await store.capture(kind, cp_dir, db)
        metadata = Metadata(
            vcluster=vcluster,
            namespace=namespace,
            store=kind,
            capture=how,
            created=created.isoformat(timespec="seconds"),
            subkube_version=subkube.__version__,
            kubernetes_version=load_pins().kubernetes.version,
        )
        archive.write(out, metadata, config, db)
    return metadata


def destination(
    to: str,
    *,
    vcluster: str,
    namespace: str,
    s3: S3Settings | None = None,
    now: dt.datetime | None = None,
) -> tuple[Destination, Location]:
    """Where a snapshot of the vcluster asked to go to the URL TO goes (a trailing / names a
    directory or key prefix, where the archive is named after the vcluster and the time).
    Made before the snapshot is taken: bad URLs and missing credentials fail first."""
    loc = parse(to)
    if loc.is_prefix:
        loc = loc.child(archive_name(vcluster, namespace, now or dt.datetime.now(dt.UTC)))
    return Destination(loc, s3), loc


async def take(
    cp_dir: Path,
    config: Config,
    *,
    vcluster: str,
    namespace: str,
    to: str,
    s3: S3Settings | None = None,
    now: dt.datetime | None = None,
) -> Location:
    """Snapshot the vcluster whose control plane keeps its data in CP_DIR to the URL TO;
    where it went."""
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    store.store_kind(config)
    target, loc = destination(to, vcluster=vcluster, namespace=namespace, s3=s3, now=when)
    with _scratch(cp_dir) as tmp:
        path = Path(tmp) / "snapshot.tar.gz"
        with path.open("wb") as fh:
            await capture(cp_dir, config, vcluster=vcluster, namespace=namespace, out=fh, now=when)
        await target.upload(path, loc)
    return loc


async def fetch(url: str, dest_dir: Path, s3: S3Settings | None = None) -> Path:
    """Download the archive at URL into DEST_DIR and check that it is one; its path."""
    loc = parse(url)
    if loc.is_prefix:
        raise SubkubeError(f"{url} names a directory; name one snapshot in it")
    path = dest_dir / "snapshot.tar.gz"
    await Destination(loc, s3).download(loc, path)
    archive.inspect(path, source=url)
    return path
