"""`subkube image build`: the runner image from Debian's packages, the project's wheel and the
pinned binaries, with mmdebstrap and podman: no Docker daemon, no registry.

The steps: install the project and its dependencies into a directory (pip, on this machine's
CPython 3.11, the same minor version as Debian's python3), compile them (so a non-root
container never writes bytecode), lay a Debian root filesystem around it (mmdebstrap),
import that as an image (podman) and save it as an OCI archive. The build key, a label on
the image, makes a second build of the same inputs a no-op.
"""

import asyncio
import dataclasses
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from subkube import __version__, podman
from subkube.aio import run_command
from subkube.binaries.catalog import cache_bin_dir, locate
from subkube.errors import SubkubeError
from subkube.image import recipe
from subkube.paths import cache_dir

Step = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Built:
    reference: str
    archive: Path
    key: str
    size: int
    seconds: float
    cached: bool


def project_root() -> Path:
    """The source tree this subkube runs from: the image is built from it."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "subkube").is_dir():
        raise SubkubeError(
            "`subkube image build` needs subkube's source tree (a git clone, installed with "
            "`make setup`); this subkube is installed from a package"
        )
    return root


def default_archive(root: Path, version: str = __version__) -> Path:
    return root / "dist" / f"subkube-{version}.oci.tar"


def _sources(root: Path) -> list[Path]:
    files = [root / "pyproject.toml", root / "README.md"]
    for folder in (root / "src" / "subkube", root / "charts" / "subkube"):
        files += [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files


def current_key(root: Path) -> str:
    manifest = cache_bin_dir() / "manifest.json"
    pins = manifest.read_text() if manifest.is_file() else ""
    return recipe.build_key(_sources(root), root, pins)


def _check_tools() -> None:
    podman.executable()
    if shutil.which("mmdebstrap") is None:
        raise SubkubeError(f"mmdebstrap is needed to build the image; {podman.INSTALL_HINT}")
    if os.geteuid() != 0:
        raise SubkubeError(
            "building the image needs root (mmdebstrap's root mode, podman's system storage); "
            "run it with sudo"
        )


async def build(
    step: Step, *, archive: Path | None = None, reference: str | None = None, force: bool = False
) -> Built:
    started = time.monotonic()
    root = project_root()
    _check_tools()
    lock_path = cache_dir() / "image" / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        # Two builds at once (two test workers, two shells) would share the work directory.
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        return await _build(step, root, archive, reference, force, started)


async def _build(
    step: Step,
    root: Path,
    archive: Path | None,
    reference: str | None,
    force: bool,
    started: float,
) -> Built:
    ref = reference or recipe.reference()
    out = archive or default_archive(root)
    key = current_key(root)
    if not force and await podman.image_label(ref, recipe.BUILD_KEY_LABEL) == key:
        # Built from the same inputs in another clone of the source tree: only the archive
        # is missing here, seconds instead of minutes.
        if not out.is_file():
            await _save(ref, out)
        return Built(ref, out, key, out.stat().st_size, time.monotonic() - started, True)

    work = cache_dir() / "image" / "work"
    shutil.rmtree(work, ignore_errors=True)
    app = work / "subkube"
    step("the project and its dependencies")
    await _install_python(root, work, app)
    step("the pinned binaries")
    _copy_binaries(app / "bin")
    step(f"the Debian {recipe.SUITE} root filesystem")
    rootfs = work / "rootfs.tar"
    await _debian_rootfs(app, rootfs, root)
    step("the image")
    changes = [arg for change in recipe.image_config(key) for arg in ("--change", change)]
    previous = await podman.image_id(ref)
    await podman.run("import", "--quiet", *changes, str(rootfs), ref)
    if previous:
        # The build this one replaces, unless a container still uses it.
        await podman.run("rmi", previous, check=False)
    await _save(ref, out)
    shutil.rmtree(work, ignore_errors=True)
    return Built(ref, out, key, out.stat().st_size, time.monotonic() - started, False)


async def _save(ref: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    await podman.run("save", "--quiet", "--format", "oci-archive", "-o", str(out), ref)


async def _install_python(root: Path, work: Path, app: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels = work / "wheels"
    await run_command(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(root)], "building subkube's wheel"
    )
    wheel = next(wheels.glob("subkube-*.whl"))
    lib = app / "lib"
    await run_command(
        [*pip, "install", "--no-compile", "--target", str(lib), str(wheel)],
        "installing subkube and its dependencies",
    )
    # Scripts pip wrote point at this machine's interpreter; the image has its own entry point.
    shutil.rmtree(lib / "bin", ignore_errors=True)
    # Hash-checked bytecode does not depend on file times, so the layer is the same each build.
    await run_command(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
            f"{recipe.APP_DIR}/lib",
            str(lib),
        ],
        "compiling the Python packages",
    )
    entry = app / "bin" / "subkube"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(recipe.entry_script())
    entry.chmod(0o755)


def _copy_binaries(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in recipe.RUNNER_BINARIES:
        shutil.copy2(locate(name), bin_dir / name)


async def _debian_rootfs(app: Path, out: Path, root: Path) -> None:
    argv = [
        "mmdebstrap",
        "--quiet",
        "--mode=root",
        "--variant=minbase",
        f"--include={','.join(recipe.PACKAGES)}",
        *(f"--dpkgopt=path-exclude={p}" for p in recipe.EXCLUDED_PATHS),
        f"--customize-hook=copy-in {app} {Path(recipe.APP_DIR).parent}",
        f'--customize-hook=chown -R 0:0 "$1{recipe.APP_DIR}"',
        *(f"--customize-hook={hook}" for hook in recipe.customize_hooks()),
        recipe.SUITE,
        str(out),
    ]
    # mmdebstrap uses this machine's apt sources; a fixed date makes its tarball the same
    # from the same packages.
    env = {**os.environ, "SOURCE_DATE_EPOCH": _source_date(root)}
    await run_command(argv, "mmdebstrap", env=env)


def _source_date(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() or "0"
    except (OSError, subprocess.CalledProcessError):
        return str(int((root / "pyproject.toml").stat().st_mtime))


async def push(destination: str, *, source: str | None = None, tls_verify: bool = True) -> None:
    """Send the built image to DESTINATION: a registry reference (`registry:5000/org/subkube:1`)
    or any transport podman knows (`oci:DIR`, `docker-archive:FILE`)."""
    ref = source or recipe.reference()
    if not await podman.image_exists(ref):
        raise SubkubeError(f"image {ref} is not built; run `make image` (`subkube image build`)")
    await podman.run("push", "--quiet", f"--tls-verify={str(tls_verify).lower()}", ref, destination)
