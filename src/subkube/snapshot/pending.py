"""A restore staged in a control plane's data dir and applied when the runner next starts.

Whoever restores only drops the archive in and restarts the runner: the CLI beside a local
runner, or `subkube inpod restore` inside the chart's pod (fed through `kubectl exec`). The
runner puts the store back before any component opens it, so one mechanism serves both
drivers and a store is never replaced under a running process. The archive is deleted only
once its store is in place: a runner stopped halfway redoes the restore at its next start.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from subkube.config.model import Config
from subkube.controlplane.spec import ControlPlaneSpec, Store
from subkube.errors import SubkubeError
from subkube.log import kv
from subkube.snapshot import archive, store
from subkube.snapshot.archive import Metadata

log = logging.getLogger(__name__)

PENDING = "restore-pending.tar.gz"


def pending_path(cp_dir: Path) -> Path:
    return cp_dir / PENDING


def _check_store(metadata: Metadata, kind: Store, source: str) -> None:
    if metadata.store != kind:
        raise SubkubeError(
            f"{source} holds a {metadata.store} store but the vcluster runs {kind}: restore it "
            f"into a vcluster with the same controlPlane.backingStore"
        )


def check(archive_path: Path, config: Config, source: str = "") -> Metadata:
    """The archive's metadata, once it is known to fit a vcluster with CONFIG; SOURCE names
    the archive in errors."""
    source = source or str(archive_path)
    snapshot = archive.inspect(archive_path, source)
    _check_store(snapshot.metadata, store.store_kind(config), source)
    return snapshot.metadata


def stage(archive_path: Path, cp_dir: Path, config: Config, source: str = "") -> Metadata:
    """Check the archive against the vcluster's CONFIG and leave it for the runner's next
    start in CP_DIR."""
    metadata = check(archive_path, config, source)
    cp_dir.mkdir(parents=True, exist_ok=True)
    partial = cp_dir / f".{PENDING}.partial"
    shutil.copyfile(archive_path, partial)
    os.replace(partial, pending_path(cp_dir))
    return metadata


def _spec_store(spec: ControlPlaneSpec) -> Store:
    if spec.kine_datasource or spec.etcd_endpoint:
        raise SubkubeError(
            f"a restore is pending in {spec.data_dir} but the vcluster now uses an external "
            f"store; remove {pending_path(spec.data_dir)} to start it without restoring"
        )
    return spec.store


async def apply(spec: ControlPlaneSpec) -> Metadata | None:
    """Put back the store of a pending restore before the control plane of SPEC starts;
    the archive's metadata, or None when nothing was pending."""
    path = pending_path(spec.data_dir)
    if not path.exists():
        return None
    snapshot = archive.inspect(path)
    _check_store(snapshot.metadata, _spec_store(spec), str(path))
    with tempfile.TemporaryDirectory(dir=spec.data_dir, prefix=".restore-") as tmp:
        db_file = Path(tmp) / "store.db"
        metadata = archive.extract_store(path, db_file)
        if metadata.store == "kine":
            store.restore_kine(spec.data_dir, db_file)
        else:
            await store.restore_etcd(spec, db_file, metadata.capture)
    path.unlink()
    log.info(
        "store restored",
        extra=kv(
            source=f"{metadata.namespace}/{metadata.vcluster}",
            created=metadata.created,
            store=metadata.store,
        ),
    )
    return metadata
