"""Scheduled snapshots: a task of the running vcluster that takes one at each fire time of
`snapshots.schedule` to `snapshots.to` and keeps the newest `snapshots.keep`."""

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Protocol

from subkube.config.model import Config
from subkube.config.schedule import next_fire
from subkube.errors import SubkubeError
from subkube.log import kv
from subkube.snapshot.capture import take
from subkube.snapshot.retention import to_prune
from subkube.snapshot.transfer import Destination
from subkube.snapshot.urls import S3Settings, parse

log = logging.getLogger(__name__)

# The longest single sleep: a suspended machine or a stepped wall clock is noticed within it.
MAX_NAP = 60.0


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime."""
        ...

    async def sleep_until(self, when: dt.datetime) -> None: ...


class WallClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep_until(self, when: dt.datetime) -> None:
        left = (when - self.now()).total_seconds()
        while left > 0:
            await asyncio.sleep(min(left, MAX_NAP))
            left = (when - self.now()).total_seconds()


class ScheduledSnapshots:
    def __init__(
        self,
        cp_dir: Path,
        config: Config,
        *,
        vcluster: str,
        namespace: str,
        s3: S3Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.cp_dir = cp_dir
        self.config = config
        self.vcluster = vcluster
        self.namespace = namespace
        self.s3 = s3
        self.clock = clock or WallClock()
        self._task: asyncio.Task[None] | None = None
        prefix = config.snapshots.to
        # `to` is a place for many archives: a directory or a key prefix, never one file.
        self.prefix = parse(prefix if prefix.endswith("/") else prefix + "/")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="scheduled-snapshots")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        s = self.config.snapshots
        log.info("scheduled snapshots", extra=kv(schedule=s.schedule, to=str(self.prefix)))
        while True:
            # After the clock's now, not after the last fire time: a snapshot that outlasts an
            # interval skips the missed fire times instead of running back to back.
            when = next_fire(s.schedule, s.timezone, self.clock.now())
            await self.clock.sleep_until(when)
            await self.fire(when)

    async def fire(self, when: dt.datetime) -> None:
        """Take the snapshot of fire time WHEN and prune; a failure is logged, and the next
        fire time tries again."""
        try:
            loc = await take(
                self.cp_dir,
                self.config,
                vcluster=self.vcluster,
                namespace=self.namespace,
                to=str(self.prefix),
                s3=self.s3,
                now=when,
            )
            log.info("snapshot taken", extra=kv(to=str(loc)))
            destination = Destination(self.prefix, self.s3)
            names = await destination.names(self.prefix)
            for name in to_prune(names, self.vcluster, self.namespace, self.config.snapshots.keep):
                await destination.delete(self.prefix.child(name))
                log.info("snapshot pruned", extra=kv(name=name))
        # A snapshot that fails (a full disk, S3 away, even a bug) must not stop the vcluster.
        except SubkubeError as exc:
            log.error("scheduled snapshot failed", extra=kv(error=str(exc)))
        except Exception:
            log.exception("scheduled snapshot failed")
