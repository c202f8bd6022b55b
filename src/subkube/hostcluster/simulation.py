"""What a kubelet gives every pod, simulated on the local host for the pods kwok fakes.

Each simulated pod has a directory of its own with one log per container (see podfiles), kept
current from the pods' statuses: a first line when a container starts, a fresh log when it
restarts, the directory removed with the pod. One cluster-wide kwok object per kind then serves
those files to `kubectl logs` and `kubectl attach`, runs `kubectl exec` as a local process in
the pod's directory, and sends every `kubectl port-forward` to a TCP echo listener run here.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from subkube.hostcluster import podfiles
from subkube.kube.controller import Controller
from subkube.kube.informer import Informer
from subkube.kube.resource import PODS, key_of
from subkube.kube.rest import Kube
from subkube.log import kv

log = logging.getLogger("subkube.host.simulation")

Key = tuple[str, str]


class EchoServer:
    """A loopback TCP listener that sends back whatever it receives."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._echo, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None


@dataclass(slots=True)
class Written:
    """What the files of one pod show: for which pod, and which runs have a first line."""

    uid: str
    runs: podfiles.Runs


class PodSimulator:
    def __init__(self, kube: Kube, home: Path) -> None:
        self.kube = kube
        self.home = home
        self.pods = Informer(kube, PODS, name="simulated-pods", keep=podfiles.summary)
        self.controller: Controller[Key] = Controller("simulated-pods", self._reconcile, 2)
        self.written: dict[Key, Written] = {}
        self.echo = EchoServer()
        self._sweep: asyncio.Task[None] | None = None

    async def start(self) -> None:
        port = await self.echo.start()
        for res, obj in podfiles.cluster_objects(self.home, port):
            await self.kube.apply(res, obj)
        self.pods.add_handler(lambda _e, o: self.controller.add(key_of(o)))
        self.pods.start()
        self.controller.start()
        self._sweep = asyncio.create_task(self._sweep_gone_pods())
        log.info("simulating pods", extra=kv(echo_port=port))

    async def stop(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep
        await self.controller.stop()
        await self.pods.stop()
        await self.echo.stop()

    async def _sweep_gone_pods(self) -> None:
        """Directories of pods deleted while the host was down go too."""
        await self.pods.synced.wait()
        for key in await asyncio.to_thread(_pod_dirs, self.home):
            if self.pods.get(*key) is None:
                self.controller.add(key)

    async def _reconcile(self, key: Key) -> None:
        pod = self.pods.get(*key)
        if pod is None:
            self.written.pop(key, None)
            await asyncio.to_thread(_remove, self.home, key)
            return
        runs = pod["runs"]
        if runs is None:
            return
        uid = pod["metadata"]["uid"]
        written = self.written.get(key)
        if written is None or written.uid != uid:
            written = Written(uid, await asyncio.to_thread(_adopt, self.home, key, uid, runs))
            self.written[key] = written
        starts = podfiles.starts(written.runs, runs)
        if starts:
            await asyncio.to_thread(_write, self.home, key, starts, dt.datetime.now(dt.UTC))
        written.runs = runs


def _pod_dirs(home: Path) -> list[Key]:
    root = home / "pods"
    if not root.is_dir():
        return []
    return [(ns.name, pod.name) for ns in root.iterdir() if ns.is_dir() for pod in ns.iterdir()]


def _adopt(home: Path, key: Key, uid: str, runs: podfiles.Runs) -> podfiles.Runs:
    """Make the pod's directory its own; return the runs its logs already show (a directory
    left by the same pod, from before the host restarted) or none (a fresh directory)."""
    directory = podfiles.pod_dir(home, *key)
    marker = directory / podfiles.UID_FILE
    with contextlib.suppress(OSError):
        if marker.read_text() == uid:
            return {c: run for c, run in runs.items() if podfiles.log_path(home, *key, c).exists()}
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    marker.write_text(uid)
    return {}


def _write(home: Path, key: Key, starts: list[podfiles.Start], now: dt.datetime) -> None:
    for start in starts:
        path = podfiles.log_path(home, *key, start.container)
        if start.rotate:
            with contextlib.suppress(FileNotFoundError):
                path.replace(podfiles.previous_log_path(home, *key, start.container))
        with path.open("a") as fh:
            fh.write(podfiles.cri_line(start.line, now))


def _remove(home: Path, key: Key) -> None:
    directory = podfiles.pod_dir(home, *key)
    shutil.rmtree(directory, ignore_errors=True)
    # The namespace's directory goes with its last pod.
    with contextlib.suppress(OSError):
        directory.parent.rmdir()
