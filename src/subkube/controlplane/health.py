"""Wait for a component to answer its health endpoint, failing fast if it exits."""

import asyncio
import ssl
import time
from collections.abc import Callable

import httpx

from subkube.controlplane.process import Process
from subkube.errors import SubkubeError


class ComponentFailed(SubkubeError):
    def __init__(self, component: str, reason: str, log_tail: str, log_path: str) -> None:
        self.component = component
        indented = "\n".join(f"    {ln}" for ln in log_tail.splitlines())
        super().__init__(
            f"{component} {reason} (log: {log_path})"
            + (f"\n  last lines:\n{indented}" if indented else "")
        )


async def wait_until_healthy(
    proc: Process,
    url: str,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = False,
    expect: str | None = None,
) -> None:
    """Poll URL until it returns 200 (and contains EXPECT); fail if PROC exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    async with httpx.AsyncClient(verify=verify, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not proc.running:
                raise ComponentFailed(
                    proc.name,
                    f"exited with code {proc.returncode}",
                    proc.log_tail(),
                    str(proc.log_path),
                )
            try:
                resp = await client.get(url)
                if resp.status_code == 200 and (expect is None or expect in resp.text):
                    return
                last = f"HTTP {resp.status_code}: {resp.text.strip()[-200:]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.25)
    raise ComponentFailed(
        proc.name,
        f"was not healthy within {timeout:.0f}s at {url} ({last})",
        proc.log_tail(),
        str(proc.log_path),
    )


async def wait_tcp(
    proc: Process,
    host: str,
    port: int,
    *,
    timeout: float,
    check: Callable[[], None] | None = None,
) -> None:
    """Until PROC listens on HOST:PORT; fail if it exits, CHECK raises, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check is not None:
            check()
        if not proc.running:
            raise ComponentFailed(
                proc.name,
                f"exited with code {proc.returncode}",
                proc.log_tail(),
                str(proc.log_path),
            )
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise ComponentFailed(
        proc.name,
        f"did not listen on {host}:{port} within {timeout:.0f}s",
        proc.log_tail(),
        str(proc.log_path),
    )
