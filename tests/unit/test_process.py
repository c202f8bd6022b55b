"""Supervised processes: process groups, clean stop, and death with the parent."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from subkube.controlplane.health import ComponentFailed, wait_until_healthy
from subkube.controlplane.ports import free_port
from subkube.controlplane.process import Process
from subkube.daemonize import pid_alive


async def test_stop_terminates_the_whole_group(tmp_path: Path) -> None:
    # A shell that ignores SIGTERM and has a child: stop() must still clean up both.
    proc = Process("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait"], tmp_path / "log")
    await proc.start()
    assert proc.running
    await proc.stop(grace=0.5)
    assert not proc.running
    assert "starting" in proc.log_tail()


async def test_health_wait_names_a_component_that_exits(tmp_path: Path) -> None:
    proc = Process("broken-thing", ["sh", "-c", "echo boom: bad flag; exit 3"], tmp_path / "l")
    await proc.start()
    with pytest.raises(ComponentFailed, match=r"broken-thing exited with code 3") as info:
        await wait_until_healthy(proc, f"http://127.0.0.1:{free_port()}/", timeout=10)
    assert "boom: bad flag" in str(info.value)


async def test_health_wait_times_out_naming_the_component(tmp_path: Path) -> None:
    proc = Process("silent", ["sleep", "30"], tmp_path / "l")
    await proc.start()
    try:
        with pytest.raises(ComponentFailed, match=r"silent was not healthy within 1s"):
            await wait_until_healthy(proc, f"http://127.0.0.1:{free_port()}/", timeout=1)
    finally:
        await proc.stop()


def test_children_die_when_the_parent_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from subkube.controlplane.process import Process

        async def main():
            procs = [Process(f"c{{i}}", ["sleep", "300"], Path({str(tmp_path)!r}) / f"{{i}}.log")
                     for i in range(3)]
            for p in procs:
                await p.start()
            Path({str(pids)!r}).write_text(" ".join(str(p.pid) for p in procs))
            await asyncio.sleep(300)

        asyncio.run(main())
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    children = [int(p) for p in pids.read_text().split()]
    assert all(pid_alive(p) for p in children)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in children)
