"""Loopback ports for components that bind them themselves.

A port is picked by binding port 0 and closing, and the component binds it seconds later.
Twenty vclusters starting at once pick about a hundred ports in that window, and the kernel
hands a closed port out again: two components then race for one port and one fails to start.
So every pick on this machine is noted in one locked file, and a port noted in the last
RESERVED_SECONDS is not handed out again.
"""

import fcntl
import json
import os
import socket
import tempfile
import time
from pathlib import Path

RESERVED_SECONDS = 120.0


def _ledger() -> Path:
    return Path(tempfile.gettempdir()) / f"subkube-ports-{os.getuid()}.json"


def free_port(address: str = "127.0.0.1") -> int:
    """A port nothing listens on, and that no other caller on this machine got lately."""
    with open(_ledger(), "a+") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        ledger.seek(0)
        try:
            noted: dict[str, float] = json.loads(ledger.read() or "{}")
        except ValueError:
            noted = {}
        now = time.time()
        noted = {p: t for p, t in noted.items() if now - t < RESERVED_SECONDS}
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((address, 0))
                port = int(s.getsockname()[1])
            if str(port) not in noted:
                break
        noted[str(port)] = now
        ledger.seek(0)
        ledger.truncate()
        ledger.write(json.dumps(noted))
        return port


def remembered_port(path: Path, address: str = "127.0.0.1") -> int:
    """The port recorded in PATH if it is still free on ADDRESS, else a fresh one (recorded):
    whatever advertises it (a node's kubelet port) stays right across restarts."""
    try:
        port = int(path.read_text())
    except (OSError, ValueError):
        port = 0
    if not port or port_in_use(port, address):
        port = free_port(address)
        path.write_text(str(port))
    return port


def port_in_use(port: int, address: str = "127.0.0.1") -> bool:
    """Whether something listens on PORT. SO_REUSEADDR as Go servers set it: a port whose
    last connections are in TIME_WAIT after a stop is free for them, and so for us."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False
