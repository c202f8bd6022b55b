"""Open file descriptors handed from one program of a process to the next across exec.

A vcluster sleeps and wakes by exec'ing its own process into another program (the runner
into `asleep` and back), so the pid, the listening socket, a daemon's lock and the
connections waiting to be served stay where they are. Each program keeps what it passes on
under a role name; the next one takes them by role.
"""

import json
import os
import sys
from typing import NoReturn

ENV = "SUBKUBE_HANDOVER"
# The roles: a local daemon's lock; the front door's listening sockets; accepted connections
# waiting to be served (the one that woke the vcluster).
LOCK, LISTENERS, HELD = "lock", "listeners", "held"

_kept: dict[str, list[int]] = {}
_inherited: dict[str, list[int]] | None = None


def keep(role: str, *fds: int) -> None:
    """Pass FDS on, under ROLE, to the program this process execs into next."""
    _kept.setdefault(role, []).extend(fds)


def take(role: str) -> list[int]:
    """The descriptors the previous program of this process passed on under ROLE (none
    after a plain start). They stay out of this program's children, and of the next
    program unless kept again."""
    global _inherited
    if _inherited is None:
        # Read once and removed at once: no child process may mistake the numbers for its own.
        _inherited = json.loads(os.environ.pop(ENV, "{}"))
    fds = _inherited.pop(role, [])
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds


def exec_into(argv: list[str]) -> NoReturn:
    """Replace this process's program with `python ARGV[1:]`, passing on what was kept."""
    for fds in _kept.values():
        for fd in fds:
            os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, {**os.environ, ENV: json.dumps(_kept)})
