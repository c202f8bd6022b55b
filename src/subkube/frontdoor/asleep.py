"""The front door while asleep: what a sleeping vcluster's process runs, and all it keeps.

The runner, going to sleep, stops its control plane and syncer and execs its own process
into this program, passing on its listening socket (and a local daemon's lock): same pid,
same port, next to no memory. The first client that sends a byte, or the autoWakeup
schedule, makes it exec back into the runner's own command line, handing over the listener
and the connections accepted meanwhile; the runner serves them once its API server is up,
so the request that woke it is answered, only later.

Imports: the standard library, cronsim, subkube.config.schedule (see the package doc).
"""

import argparse
import contextlib
import datetime as dt
import json
import logging
import select
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from subkube.config.schedule import next_fire
from subkube.frontdoor import clock, handover
from subkube.frontdoor.policy import fired
from subkube.log import configure, kv

log = logging.getLogger("subkube.frontdoor.asleep")

MODULE = "subkube.frontdoor.asleep"
# The longest a look at the wake schedule is put off: a suspended machine or a clock that
# was set must not make it late by more.
MAX_WAIT = 60.0


class Stopped(Exception):
    """SIGTERM or SIGINT: `subkube pause`/`delete`, or the pod going away."""


def argv(
    *, state: Path, since: dt.datetime, schedule: str, timezone: str, quiet: set[str]
) -> list[str]:
    """This program's command line (to exec into); the runner's own follows after `--`.
    QUIET: addresses of subkube's own clients, which wake nothing."""
    return [
        sys.executable,
        "-m",
        MODULE,
        "--state",
        str(state),
        "--since",
        since.isoformat(),
        "--wake-schedule",
        schedule,
        "--wake-timezone",
        timezone,
        *(f"--quiet-peer={address}" for address in sorted(quiet)),
        "--",
        *sys.orig_argv,
    ]


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def _wait(schedule: str, timezone: str, since: dt.datetime, now: dt.datetime) -> float | None:
    if not schedule:
        return None
    if clock.controlled():
        return 1.0
    return min(max((next_fire(schedule, timezone, since) - now).total_seconds(), 0.0), MAX_WAIT)


def watch(
    listeners: list[socket.socket],
    waiting: list[socket.socket],
    *,
    schedule: str,
    timezone: str,
    since: dt.datetime,
    quiet: set[str],
) -> str:
    """Until it is time to wake; why. Accepted connections are left in WAITING, but those
    from QUIET addresses are closed: they would wake the vcluster for nobody."""
    while True:
        now = clock.now()
        if fired(schedule, timezone, since, now):
            return "schedule"
        readable, _, _ = select.select(
            [*listeners, *waiting], [], [], _wait(schedule, timezone, since, now)
        )
        for sock in readable:
            if sock in listeners:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    conn, peer = sock.accept()
                    if peer[0] in quiet:
                        conn.close()
                        continue
                    conn.setblocking(False)
                    waiting.append(conn)
                continue
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            except OSError:
                first = b""
            if first:
                return "connection"
            # Connected and gone without a byte (a TCP readiness probe): nobody to wake for.
            waiting.remove(sock)
            sock.close()


def mark_stopped(path: Path) -> None:
    """What the runner's daemon records when it stops, so `subkube list` tells the truth."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    state.update(phase="Stopped", pid=None, components={})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    split = args.index("--") if "--" in args else len(args)
    parser = argparse.ArgumentParser(prog=MODULE)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--since", type=dt.datetime.fromisoformat, required=True)
    parser.add_argument("--wake-schedule", default="")
    parser.add_argument("--wake-timezone", default="UTC")
    parser.add_argument("--quiet-peer", action="append", default=[])
    opts = parser.parse_args(args[:split])
    wake_argv = args[split + 1 :]
    if not wake_argv:
        parser.error("the runner's command line must follow --")
    configure(1)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Asleep already: a sleep request has nothing left to do.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    handover.keep(handover.LOCK, *handover.take(handover.LOCK))
    listeners = [socket.socket(fileno=fd) for fd in handover.take(handover.LISTENERS)]
    for sock in listeners:
        sock.setblocking(False)
    waiting: list[socket.socket] = []
    log.info("asleep", extra=kv(listening=[s.getsockname()[1] for s in listeners]))
    try:
        why = watch(
            listeners,
            waiting,
            schedule=opts.wake_schedule,
            timezone=opts.wake_timezone,
            since=opts.since,
            quiet=set(opts.quiet_peer),
        )
    except Stopped:
        mark_stopped(opts.state)
        log.info("stopped while asleep")
        return 0
    log.info("waking", extra=kv(reason=why, waiting=len(waiting)))
    handover.keep(handover.LISTENERS, *(s.fileno() for s in listeners))
    handover.keep(handover.HELD, *(s.fileno() for s in waiting))
    handover.exec_into(wake_argv)


if __name__ == "__main__":
    sys.exit(main())
