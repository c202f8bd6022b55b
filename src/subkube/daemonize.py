"""Detached background processes (local hosts, local vclusters) and waiting on them.

The daemon records its phase in a state file; the CLI that started it waits on that file
and on the process, and reports the daemon's log if it dies.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from subkube.controlplane.process import tail
from subkube.errors import SubkubeError
from subkube.hostcluster.state import pid_alive


class DaemonState(Protocol):
    phase: str
    pid: int | None
    error: str


S = TypeVar("S", bound=DaemonState)


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
            raise SubkubeError(
                f"{what}'s process exited during start-up; last lines of "
                f"{log_path}:\n{tail(log_path)}"
            )
        time.sleep(0.3)
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
