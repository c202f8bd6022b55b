"""What a tenant's kubectl does with a pod's streams, checked the same way for every driver:
exec with stdin and exit codes, cp both ways, port-forward to the local host's echo
listener, and reading a kubectl that keeps running (logs -f, attach)."""

import os
import re
import select
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import kubectl, require_binary


def streaming(kubeconfig: Path, *args: str) -> "subprocess.Popen[bytes]":
    """A kubectl that keeps running (logs -f, attach, port-forward)."""
    return subprocess.Popen(
        [str(require_binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def read_until(stream: IO[bytes], pattern: str, timeout: float = 60) -> str:
    """What a running kubectl printed, up to where PATTERN shows."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            seen += chunk.decode(errors="replace")
            if re.search(pattern, seen):
                return seen
    pytest.fail(f"no {pattern!r} in {seen!r}")


def check_exec(kubeconfig: Path, namespace: str, pod: str, container: str) -> None:
    """stdin reaches the process; its exit code is kubectl's."""
    target = ["-n", namespace, "exec", pod, "-c", container]
    echoed = kubectl(kubeconfig, *target[:3], "-i", *target[3:], "--", "cat", stdin="hi\n")
    assert echoed.stdout == "hi\n"
    failed = kubectl(kubeconfig, *target, "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr


def check_cp(kubeconfig: Path, namespace: str, pod: str, container: str, tmp: Path) -> str:
    """A file copied in and back out is the same; its text."""
    source = tmp / "in.txt"
    text = f"payload for {namespace}\n"
    source.write_text(text)
    kubectl(kubeconfig, "-n", namespace, "cp", str(source), f"{pod}:copied.txt", "-c", container)
    back = tmp / "out.txt"
    kubectl(kubeconfig, "-n", namespace, "cp", f"{pod}:copied.txt", str(back), "-c", container)
    assert back.read_text() == text
    return text


def check_port_forward(kubeconfig: Path, namespace: str, target: str, port: int) -> None:
    """256 KiB of random bytes go out through `kubectl port-forward` and come back."""
    with streaming(kubeconfig, "-n", namespace, "port-forward", target, f":{port}") as forward:
        try:
            assert forward.stdout is not None
            printed = read_until(forward.stdout, r"127\.0\.0\.1:\d+")
            local = int(printed.split("127.0.0.1:", 1)[1].split()[0])
            payload = os.urandom(256 * 1024)
            with socket.create_connection(("127.0.0.1", local), timeout=30) as conn:
                conn.sendall(payload)
                echoed = b""
                while len(echoed) < len(payload):
                    chunk = conn.recv(65536)
                    assert chunk, "the echo ended early"
                    echoed += chunk
            assert echoed == payload
        finally:
            forward.kill()
