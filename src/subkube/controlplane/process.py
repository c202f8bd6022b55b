"""Supervised child processes that never outlive their parent.

Each child gets its own process group (a terminal's Ctrl-C goes to the parent, which then
stops children in order) and PR_SET_PDEATHSIG=SIGKILL, so if the parent is SIGKILLed the kernel
kills the children too: no orphaned API servers.
"""

import asyncio
import contextlib
import ctypes
import datetime as dt
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from subkube.log import kv

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would ever kill us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


class Process:
    """One upstream binary running as a child, with its output in its own log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        cri_log: bool = False,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        # Write the log as a container runtime does (`TIME STREAM F LINE`), which is what
        # kwok serves to `kubectl logs`.
        self.cri_log = cri_log
        self._proc: asyncio.subprocess.Process | None = None
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.cri_log:
            await self._start_piped()
            return
        with self.log_path.open("ab") as out:
            out.write(f"--- starting: {' '.join(self.argv)}\n".encode())
            out.flush()
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )
        log.info("started", extra=kv(component=self.name, pid=self._proc.pid, log=self.log_path))

    async def _start_piped(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(self._proc.stdout, "stdout")),
            asyncio.create_task(self._pump(self._proc.stderr, "stderr")),
        ]
        log.info("started", extra=kv(component=self.name, pid=self._proc.pid, log=self.log_path))

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        with self.log_path.open("ab", buffering=0) as out:
            while line := await stream.readline():
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                out.write(f"{stamp} {name} F ".encode() + line.rstrip(b"\n") + b"\n")

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after GRACE seconds."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            log.warning("did not stop in time, killing", extra=kv(component=self.name))
            self._signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        log.info("stopped", extra=kv(component=self.name, code=proc.returncode))

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    async def wait(self) -> int:
        assert self._proc is not None
        return await self._proc.wait()

    def log_tail(self, lines: int = 15) -> str:
        return tail(self.log_path, lines)
