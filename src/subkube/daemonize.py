"""Detached background processes (local hosts, local vclusters) and waiting on them.

The daemon records its phase in a state file; the CLI that started it waits on that file
and on the process, and reports the daemon's log if it dies.
"""

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from subkube.controlplane.process import tail
from subkube.errors import SubkubeError
from subkube.frontdoor import handover
from subkube.log import kv

if TYPE_CHECKING:
    # The CLI imports this module to wait on daemons; the control plane's own imports
    # (cryptography, the binary pins) are the runner's to pay.
    from subkube.controlplane.controlplane import ControlPlane

log = logging.getLogger(__name__)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); read its state to tell.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


@dataclass
class DaemonState:
    """What a daemon tells the CLI about itself, kept in a JSON file it rewrites."""

    name: str
    phase: str = "Starting"  # Starting | Running | Sleeping | Stopping | Stopped | Failed
    pid: int | None = None
    server: str = ""
    kubeconfig: str = ""
    started_at: str = ""
    error: str = ""
    # Stopped on its own (not told to): why, e.g. its host namespace was deleted.
    reason: str = ""
    components: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        raise NotImplementedError

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path)

    @property
    def running(self) -> bool:
        return self.phase in ("Starting", "Running") and pid_alive(self.pid)


S = TypeVar("S", bound=DaemonState)


def load(cls: type[S], path: Path) -> S | None:
    try:
        return cls(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def run_locked(lock_path: Path, what: str, main: Callable[[], Coroutine[Any, Any, int]]) -> None:
    """Run MAIN unless another daemon holds LOCK_PATH: one daemon per data dir."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # Woken from sleep, this is the same process, still holding its lock on the fd it kept.
    inherited = handover.take(handover.LOCK)
    with os.fdopen(inherited[0], "w") if inherited else lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{what} is already running", file=sys.stderr)
            sys.exit(2)
        handover.keep(handover.LOCK, lock.fileno())
        sys.exit(asyncio.run(main()))


class Sleeper(Protocol):
    """What lets a daemon sleep instead of stopping (subkube.runner.sleep)."""

    async def wanted(self) -> None:
        """Return when the daemon should go to sleep (it never may: wait for ever)."""

    async def sleep(self, stopping: asyncio.Event) -> None:
        """With the daemon's own parts stopped: go to sleep, replacing the process; return
        only if STOPPING is set first (a SIGTERM while it stopped them)."""


async def serve(
    state: DaemonState,
    what: str,
    start: Callable[[], Awaitable["ControlPlane"]],
    stop: Callable[[], Awaitable[None]],
    sleeper: Sleeper | None = None,
    lost: Callable[[], Awaitable[str]] | None = None,
) -> int:
    """The life of a daemon: start (unless told to stop first), record Running, supervise
    the control plane until SIGTERM/SIGINT, stop, record Stopped (or Failed). With a
    SLEEPER, supervise only until it wants to sleep, then stop and let it. LOST returns
    once the daemon has nothing left to serve, and why: it stops, keeping the reason."""
    state.pid = os.getpid()
    state.phase = "Starting"
    state.reason = ""
    state.save()
    log.info("starting", extra=kv(what=what))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    def save_components(cp: "ControlPlane") -> None:
        state.components = {p.name: p.pid or 0 for p in cp.processes}
        state.save()

    code = 0
    asleep = False
    try:
        starting = asyncio.ensure_future(start())
        waiter = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        else:
            waiter.cancel()
            cp = starting.result()
            state.phase = "Running"
            # A daemon behind a front door has set the address its clients are given.
            state.server = state.server or cp.server
            state.kubeconfig = state.kubeconfig or str(cp.kubeconfig)
            state.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            save_components(cp)
            log.info("running", extra=kv(what=what, server=state.server))
            asleep = await _supervise(cp, stopping, save_components, sleeper, lost, state)
    except SubkubeError as exc:
        state.phase, state.error = "Failed", str(exc)
        log.error("failed", extra=kv(what=what, error=str(exc)))
        code = 1
    finally:
        if state.phase != "Failed":
            state.phase = "Stopping"
        state.save()
        await stop()
        if asleep and sleeper is not None and not stopping.is_set():
            await sleeper.sleep(stopping)
        if state.phase != "Failed":
            state.phase = "Stopped"
        state.pid = None
        state.components = {}
        state.save()
    return code


async def _supervise(
    cp: "ControlPlane",
    stopping: asyncio.Event,
    save_components: Callable[["ControlPlane"], None],
    sleeper: Sleeper | None,
    lost: Callable[[], Awaitable[str]] | None,
    state: DaemonState,
) -> bool:
    """Supervise CP until STOPPING is set, SLEEPER wants to sleep or LOST returns (its
    reason goes into STATE); whether it sleeps."""
    halt = asyncio.Event()
    supervising = asyncio.ensure_future(cp.supervise(halt, on_restart=lambda: save_components(cp)))
    sleepy = asyncio.ensure_future(sleeper.wanted()) if sleeper else None
    losing = asyncio.ensure_future(lost()) if lost else None
    tasks = {
        supervising,
        asyncio.ensure_future(stopping.wait()),
        *([sleepy] if sleepy else []),
        *([losing] if losing else []),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if losing is not None and losing.done() and not supervising.done():
            state.reason = losing.result()
            log.warning("stopping on its own", extra=kv(reason=state.reason))
        asleep = (
            sleepy is not None and sleepy.done() and not supervising.done() and not state.reason
        )
        if sleepy is not None and asleep:
            sleepy.result()
        halt.set()
        await supervising
        return asleep
    finally:
        for task in tasks:
            task.cancel()


def spawn(module: str, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `python -m MODULE ARGS` in its own session, so it outlives the CLI."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def wait_running(
    load: Callable[[], S | None],
    what: str,
    pid: int | None,
    log_path: Path,
    timeout: float,
    on_phase: Callable[[str], None] | None = None,
    proc: subprocess.Popen[bytes] | None = None,
) -> S:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        state = load()
        if state is not None and state.pid == pid:
            if state.phase != seen and on_phase:
                on_phase(state.phase)
            seen = state.phase
            if state.phase == "Running":
                return state
            if state.phase in ("Failed", "Stopped"):
                raise SubkubeError(f"{what} failed to start: {state.error or 'stopped'}")
        exited = proc.poll() is not None if proc else not pid_alive(pid)
        if exited:
            # It may have recorded why it failed and exited between two looks: its last
            # save clears the pid, so the state seen before says it was this process.
            state = load()
            if seen and state is not None and state.phase == "Failed" and state.error:
                raise SubkubeError(f"{what} failed to start: {state.error}")
            raise SubkubeError(
                f"{what}'s process exited during start-up; last lines of "
                f"{log_path}:\n{tail(log_path)}"
            )
        # A small file read: looking often takes nothing and returns as soon as it runs.
        time.sleep(0.1)
    raise SubkubeError(f"{what} did not start within {timeout:.0f}s; see {log_path}")


def terminate(pid: int, timeout: float = 60.0) -> None:
    """SIGTERM, wait, then SIGKILL: children carry PDEATHSIG, so they go with it."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.1)
