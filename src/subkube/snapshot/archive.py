"""The snapshot archive: one tar.gz holding what it takes to make a vcluster again.

Members, in this order, so that a reader of a stream meets the metadata first:

    metadata.json   format version, source vcluster, store kind and how it was read, when,
                    by which subkube and for which Kubernetes
    config.json     the vcluster's effective config (subkube.yaml merged and checked)
    store/kine.db   the kine store: a SQLite database
    store/etcd.db   or the etcd store: etcd's own snapshot, or a stopped member's db file
"""

import datetime as dt
import io
import json
import tarfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import ValidationError

from subkube.config.model import Config
from subkube.controlplane.spec import Store
from subkube.errors import SubkubeError

FORMAT = 1
METADATA = "metadata.json"
CONFIG = "config.json"
STORE_MEMBERS: dict[Store, str] = {"kine": "store/kine.db", "etcd": "store/etcd.db"}

# "snapshot": etcd's snapshot API, whose file ends with its sha256 (checked at restore);
# "copy": a consistent copy of the database file (SQLite's backup API, a stopped etcd's db).
Capture = Literal["snapshot", "copy"]


@dataclass(frozen=True)
class Metadata:
    vcluster: str
    namespace: str
    store: Store
    capture: Capture
    created: str  # ISO 8601, UTC
    subkube_version: str
    kubernetes_version: str
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: bytes, source: str) -> "Metadata":
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            version = data.get("format")
            if isinstance(version, int) and version > FORMAT:
                raise SubkubeError(
                    f"{source} has snapshot format {version}, newer than this subkube reads "
                    f"({FORMAT}): upgrade subkube"
                )
            meta = cls(**{f.name: data[f.name] for f in fields(cls)})
        except (ValueError, TypeError, KeyError) as exc:
            raise SubkubeError(
                f"{source} is not a subkube snapshot (bad {METADATA}: {exc})"
            ) from exc
        if meta.store not in STORE_MEMBERS:
            raise SubkubeError(f"{source} holds a store of unknown kind {meta.store!r}")
        return meta


@dataclass(frozen=True)
class Snapshot:
    """What an archive says about itself; the store stays in the file until restored."""

    metadata: Metadata
    config: Config


def _member(name: str, size: int, created: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600  # the store holds the tenant's Secrets
    info.mtime = int(dt.datetime.fromisoformat(created).timestamp())
    return info


def write(out: BinaryIO, metadata: Metadata, config: Config, store_file: Path) -> None:
    """Write the archive to OUT, a file or a pipe (it is written as a stream)."""
    with tarfile.open(fileobj=out, mode="w|gz") as tar:
        for name, data in (
            (METADATA, metadata.to_json().encode()),
            (CONFIG, config.model_dump_json(indent=2).encode()),
        ):
            tar.addfile(_member(name, len(data), metadata.created), io.BytesIO(data))
        size = store_file.stat().st_size
        with store_file.open("rb") as fh:
            tar.addfile(_member(STORE_MEMBERS[metadata.store], size, metadata.created), fh)


def _read_member(tar: tarfile.TarFile, name: str, source: str) -> bytes:
    try:
        fh = tar.extractfile(name)
    except KeyError:
        fh = None
    if fh is None:
        raise SubkubeError(f"{source} is not a subkube snapshot (no {name} in it)")
    return fh.read()


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SubkubeError(f"{path} is not a subkube snapshot (not a tar.gz: {exc})") from exc


def inspect(path: Path, source: str = "") -> Snapshot:
    """The metadata and config of the archive at PATH (SOURCE names it in errors)."""
    source = source or str(path)
    with _open(path) as tar:
        try:
            metadata = Metadata.from_json(_read_member(tar, METADATA, source), source)
            raw_config = _read_member(tar, CONFIG, source)
            if STORE_MEMBERS[metadata.store] not in tar.getnames():
                raise SubkubeError(f"{source} is not a subkube snapshot (it holds no store)")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise SubkubeError(f"{source} is damaged ({exc})") from exc
    try:
        config = Config.model_validate_json(raw_config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SubkubeError(
            f"{source} holds a config this subkube cannot read ({where}: {first['msg']})"
        ) from exc
    return Snapshot(metadata, config)


def extract_store(path: Path, dest: Path) -> Metadata:
    """Write the archive's store to the file DEST."""
    with _open(path) as tar:
        try:
            metadata = Metadata.from_json(_read_member(tar, METADATA, str(path)), str(path))
            fh = tar.extractfile(STORE_MEMBERS[metadata.store])
            if fh is None:
                raise SubkubeError(f"{path} is not a subkube snapshot (it holds no store)")
            with dest.open("wb") as out:
                while chunk := fh.read(1 << 20):
                    out.write(chunk)
        except (tarfile.TarError, EOFError) as exc:
            raise SubkubeError(f"{path} is damaged ({exc})") from exc
    return metadata
