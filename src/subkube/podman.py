"""Podman, the container engine subkube drives: it builds the runner image and the local host
runs the chart's pod in it. No daemon and no registry are needed.

Every call goes through `argv()`, which pins the engine settings that work on the machines
we run on, a sandbox among them: runc with cgroupfs (crun and systemd cgroups fail there with
"cgroups in hybrid mode not supported") and ulimits no higher than this process's own hard
limits (podman's defaults fail with "setrlimit: Operation not permitted").
"""

import resource
import shutil

from subkube.aio import run_command
from subkube.errors import SubkubeError

ENGINE_FLAGS = ("--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file")
ULIMIT_CEILING = 32768
INSTALL_HINT = "install Debian's podman and runc (`make setup` does, as root)"


def available() -> bool:
    return shutil.which("podman") is not None and shutil.which("runc") is not None


def executable() -> str:
    path = shutil.which("podman")
    if path is None or shutil.which("runc") is None:
        raise SubkubeError(f"podman and runc are needed; {INSTALL_HINT}")
    return path


def argv(*args: str) -> list[str]:
    return [executable(), *ENGINE_FLAGS, *args]


def ulimits() -> list[str]:
    """A container's open files and processes: as many as this process may have, up to a
    ceiling (on some machines runc may not raise NPROC to the hard limit it reads)."""
    out = []
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(limit)[1]
        value = ULIMIT_CEILING if hard == resource.RLIM_INFINITY else min(hard, ULIMIT_CEILING)
        out += ["--ulimit", f"{name}={value}:{value}"]
    return out


async def run(*args: str, check: bool = True) -> str:
    """`podman ARGS`; its stdout, or one line of its error."""
    return await run_command(argv(*args), f"podman {args[0]}", check=check)


async def image_label(ref: str, label: str) -> str | None:
    """A label of an image in local storage; None when the image is not there."""
    out = await run(
        "image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', ref, check=False
    )
    return out.strip() or None


async def image_id(ref: str) -> str | None:
    out = await run("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return out.strip() or None


async def image_exists(ref: str) -> bool:
    return await image_id(ref) is not None


async def remove_labelled(label: str, value: str) -> list[str]:
    """Force-remove every container carrying LABEL=VALUE; the names removed."""
    names = (
        await run("ps", "-a", "--filter", f"label={label}={value}", "--format", "{{.Names}}")
    ).split()
    if names:
        await run("rm", "-f", "-t", "0", *names, check=False)
    return names
