"""Small asyncio helpers shared by long-running components."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from subkube.errors import SubkubeError


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel TASKS and wait until each has finished; clears the list."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()


async def poll_until(check: Callable[[], Awaitable[bool]], timeout: float, every: float) -> bool:
    """Await CHECK every EVERY seconds until it is true (True) or TIMEOUT has passed (False)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(every)


async def run_command(
    argv: list[str],
    what: str,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> str:
    """Run ARGV to its end; its stdout. A failure is one line: WHAT, then the last line the
    command printed on stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SubkubeError(f"{what} did not finish within {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        lines = lines or out.decode(errors="replace").strip().splitlines() or ["no output"]
        raise SubkubeError(f"{what} failed: {lines[-1]}")
    return out.decode(errors="replace")
