"""Which upstream binaries subkube uses, how each is obtained, and how its version is read."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from subkube.binaries.pins import Pins, load_pins
from subkube.errors import SubkubeError
from subkube.paths import cache_dir


@dataclass(frozen=True)
class BinarySpec:
    name: str
    # "kubernetes" | "kine" | "kwok" | "etcd" | "versitygw" | "kubectl_layer": the pin that
    # yields it
    source: str
    expected_version: str
    version_args: tuple[str, ...]


def specs(pins: Pins | None = None) -> list[BinarySpec]:
    p = pins or load_pins()
    k8s = [
        BinarySpec(name, "kubernetes", p.kubernetes.version, ("--version",))
        for name in p.kubernetes.binaries
    ]
    return [
        *k8s,
        BinarySpec("kine", "kine", p.kine.version, ("--version",)),
        BinarySpec("kwok", "kwok", p.kwok.version, ("--version",)),
        BinarySpec("etcd", "etcd", p.etcd.version, ("--version",)),
        # Snapshots of an embedded etcd: etcdctl saves one from the running member, etcdutl
        # restores one into a data dir.
        BinarySpec("etcdctl", "etcd", p.etcd.version, ("version",)),
        BinarySpec("etcdutl", "etcd", p.etcd.version, ("version",)),
        BinarySpec("versitygw", "versitygw", p.versitygw.version, ("--version",)),
        BinarySpec(
            "kubectl", "kubectl_layer", p.kubectl_layer.kubectl_version, ("version", "--client")
        ),
        BinarySpec("helm", "kubectl_layer", p.kubectl_layer.helm_version, ("version", "--short")),
    ]


def spec(name: str) -> BinarySpec:
    for s in specs():
        if s.name == name:
            return s
    raise KeyError(name)


def cache_bin_dir() -> Path:
    return cache_dir() / "bin"


def user_bin_dir() -> Path | None:
    env = os.environ.get("SUBKUBE_BIN_DIR")
    return Path(env).expanduser() if env else None


def candidate_paths(name: str) -> list[Path]:
    """SUBKUBE_BIN_DIR wins over the cache, so users can bring their own builds."""
    dirs = [d for d in (user_bin_dir(), cache_bin_dir()) if d is not None]
    return [d / name for d in dirs]


def find(name: str, *, executable: bool = True) -> Path | None:
    for path in candidate_paths(name):
        if path.is_file() and (not executable or os.access(path, os.X_OK)):
            return path
    return None


def locate(name: str, *, executable: bool = True) -> Path:
    """The path of an installed binary (or data file), or an error that says how to install it."""
    path = find(name, executable=executable)
    if path is None:
        looked = ", ".join(str(p) for p in candidate_paths(name))
        raise SubkubeError(
            f"{name} is not installed (looked in {looked}); run `subkube binaries install`"
        )
    return path


def read_version(path: Path, s: BinarySpec) -> str:
    """The first line the binary prints about its version ("" if it cannot run)."""
    try:
        out = subprocess.run(
            [str(path), *s.version_args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else ""


def version_matches(s: BinarySpec, version_output: str) -> bool:
    # "etcd Version: 3.5.1" carries no "v"; helm prints "v4.1.4+g05fa379".
    return s.expected_version in version_output
