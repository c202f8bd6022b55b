"""The local host's two ways of running a pod of the subkube image: a real container of the
built image (podman), or, where no container engine is installed, a local process.

A container runs in the foreground of a `podman run` child, so its output is the pod's log
and its exit is the process's exit, exactly as with a local process. Stopping goes through
the engine, since killing the client alone would leave the container running; containers
carry the host's label, so whatever a killed daemon left behind is removed at the next start
and at `host down`.
"""

import asyncio
import os
from enum import StrEnum
from pathlib import Path

from subkube import podman
from subkube.controlplane.process import Process

HOST_LABEL = "io.subkube.host"


class Engine(StrEnum):
    container = "container"
    process = "process"


def choose(requested: str = "auto") -> Engine:
    """auto: containers where podman and runc are installed, local processes elsewhere."""
    if requested == "auto":
        return Engine.container if podman.available() else Engine.process
    return Engine(requested)


def describe(engine: Engine) -> str:
    if engine is Engine.container:
        return "container (podman)"
    return "process (no podman/runc installed)"


class ContainerProcess(Process):
    def __init__(self, name: str, container: str, run_args: list[str], log_path: Path) -> None:
        super().__init__(name, podman.argv(*run_args), log_path, cri_log=True)
        self.container = container

    async def stop(self, grace: float = 10.0) -> None:
        if self.running:
            await podman.run("stop", "--time", str(int(grace)), self.container, check=False)
        await super().stop(grace=5.0)


def exec_prefix(container: str) -> list[str]:
    """What kwok's exec puts before the command so `kubectl exec` enters the container."""
    return podman.argv("exec", "--interactive", "{tty}", container)


async def remove_leftovers(host: str) -> list[str]:
    """Containers of this host that outlived their daemon."""
    if not podman.available():
        return []
    return await podman.remove_labelled(HOST_LABEL, host)


async def hand_over(paths: list[Path], uid: int, gid: int) -> None:
    """Give a pod's volumes to the user its container runs as (a kubelet's fsGroup
    ownership change)."""

    def chown_all() -> None:
        for top in paths:
            for root, dirs, files in os.walk(top):
                for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(entry, uid, gid)

    await asyncio.to_thread(chown_all)
