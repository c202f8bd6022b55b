"""Upload, download, list and delete snapshot archives at file:// and s3:// locations."""

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from subkube.errors import SubkubeError
from subkube.snapshot.urls import Location, S3Settings

if TYPE_CHECKING:
    from subkube.snapshot.s3 import S3


class Destination:
    """One place snapshots go to or come from; S3 credentials are checked when made, so
    a bad destination fails before any snapshot is taken."""

    def __init__(self, loc: Location, s3: S3Settings | None = None) -> None:
        self.loc = loc
        self._s3 = None
        if loc.scheme == "s3":
            # Imported only here: boto3 takes about 0.15 s and 5 MiB to import, which every
            # `subkube` command and every runner would pay for snapshots they never send.
            from subkube.snapshot.s3 import S3

            self._s3 = S3(s3 or S3Settings())

    @property
    def s3(self) -> "S3":
        assert self._s3 is not None, "an s3:// location"
        return self._s3

    async def upload(self, src: Path, loc: Location) -> None:
        if loc.scheme == "s3":
            await asyncio.to_thread(self.s3.upload, src, loc)
            return
        await asyncio.to_thread(_copy_into_place, src, Path(loc.path))

    async def download(self, loc: Location, dest: Path) -> None:
        if loc.scheme == "s3":
            await asyncio.to_thread(self.s3.download, loc, dest)
            return
        try:
            await asyncio.to_thread(shutil.copyfile, loc.path, dest)
        except FileNotFoundError:
            raise SubkubeError(f"no snapshot at {loc}") from None
        except IsADirectoryError:
            raise SubkubeError(f"{loc} is a directory, not a snapshot") from None

    async def names(self, prefix: Location) -> list[str]:
        """Names of the archives directly in the directory or key prefix PREFIX."""
        if prefix.scheme == "s3":
            keys = await asyncio.to_thread(self.s3.list_keys, prefix)
            return [k.removeprefix(prefix.path) for k in keys]
        try:
            return sorted(p.name for p in Path(prefix.path).iterdir() if p.is_file())
        except FileNotFoundError:
            return []

    async def delete(self, loc: Location) -> None:
        if loc.scheme == "s3":
            await asyncio.to_thread(self.s3.delete, loc)
            return
        Path(loc.path).unlink(missing_ok=True)


def _copy_into_place(src: Path, dest: Path) -> None:
    """Copy SRC to DEST so that DEST is never half written (a reader sees old or new)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.partial")
        shutil.copyfile(src, partial)
        os.replace(partial, dest)
    except OSError as exc:
        raise SubkubeError(f"cannot write the snapshot to {dest} ({exc.strerror})") from exc
