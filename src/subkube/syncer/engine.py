"""The one engine every synced kind runs on, whichever direction it copies.

A kind says which informers it reads (from the shared cache), which key each change
concerns, and how to reconcile one key. The engine owns the rest, the same for all kinds:
a de-duplicating queue, workers, backoff (fast for conflicts), a periodic resync, metrics
and logs. The to-host and from-host rules live in `tohost.py` and `fromhost.py`.
"""

import asyncio
import logging
import time
from collections.abc import Iterable

from subkube.aio import cancel_all
from subkube.kube.controller import Controller
from subkube.kube.informer import Informer, Key
from subkube.kube.rest import TRANSIENT, ApiError
from subkube.kube.workqueue import WorkQueue
from subkube.log import kv
from subkube.syncer import metrics
from subkube.syncer.context import SyncContext

log = logging.getLogger(__name__)


def namespace_of(key: Key) -> str:
    return key[0]


class Kind:
    """One synced kind. Subclasses implement `watch`, `keys` and `reconcile`."""

    name = ""
    workers = 10
    # Every key is looked at again this often, whatever the watches said.
    resync_period = 300.0
    # A key that failed this many times is dropped (None: retried for ever).
    max_retries: int | None = None

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        # Namespaces take turns: one that floods delays another by a turn, not its backlog.
        self.queue: WorkQueue[Key] = WorkQueue(flow=namespace_of)

    def enqueue(self, key: Key) -> None:
        self.queue.add(key)

    def requeue_after(self, key: Key, delay: float) -> None:
        self.queue.add_after(key, delay)

    def count(self, operation: str) -> None:
        """One write of OPERATION (create, update, delete, status, …) done."""
        metrics.OPERATIONS.labels(
            vcluster=self.ctx.vcluster, kind=self.name, operation=operation
        ).inc()

    async def setup(self) -> None:
        """What must exist before the kind watches (a custom resource: its definition,
        copied inside from the host)."""

    def watch(self) -> list[Informer]:
        """Ask the cache for the informers this kind reads and subscribe to the changes that
        concern its keys; returns the informers that must have listed before work starts."""
        raise NotImplementedError

    def all_keys(self) -> Iterable[Key]:
        """Every key there is to look at (at start and on resync)."""
        raise NotImplementedError

    async def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    def synced_count(self) -> int:
        """Objects this kind keeps in sync now (a gauge)."""
        return 0


class Engine:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.queue = kind.queue
        labels = {"vcluster": kind.ctx.vcluster, "kind": kind.name}
        self._labels = labels
        self._reconcile_seconds = metrics.RECONCILE_SECONDS.labels(**labels)
        metrics.QUEUE_DEPTH.labels(**labels).set_function(lambda: len(self.queue))
        metrics.SYNCED.labels(**labels).set_function(kind.synced_count)
        self.controller = Controller(
            kind.name, self._timed_reconcile, kind.workers, queue=kind.queue, on_error=self._failed
        )
        self._resync_task: asyncio.Task[None] | None = None
        self._informers: list[Informer] | None = None

    def enqueue_all(self) -> None:
        for key in self.kind.all_keys():
            self.queue.add(key)

    async def prepare(self) -> None:
        """Make what the kind needs and set its informers listing; start() waits for their
        lists. A manager prepares every kind first, so their lists run side by side, and
        starts them stage by stage: a kind's keys wait in its queue until then."""
        await self.kind.setup()
        self._informers = self.kind.watch()
        self.kind.ctx.cache.start(self._informers)

    async def start(self) -> None:
        if self._informers is None:
            await self.prepare()
        assert self._informers is not None
        await self.kind.ctx.cache.synced(self._informers)
        self.enqueue_all()
        self.controller.start()
        self._resync_task = asyncio.create_task(self._resync(), name=f"{self.kind.name}-resync")

    async def stop(self) -> None:
        if self._resync_task is not None:
            await cancel_all([self._resync_task])
        await self.controller.stop()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.kind.resync_period)
            self.enqueue_all()

    async def _timed_reconcile(self, key: Key) -> None:
        started = time.monotonic()
        try:
            await self.kind.reconcile(key)
        finally:
            self._reconcile_seconds.observe(time.monotonic() - started)

    def _failed(self, key: Key, exc: BaseException) -> None:
        metrics.RECONCILE_ERRORS.labels(**self._labels, error=type(exc).__name__).inc()
        name, shown = self.kind.name, "/".join(key)
        if not isinstance(exc, (ApiError, *TRANSIENT)):
            log.error("reconcile crashed", exc_info=exc, extra=kv(kind=name, key=shown))
        retries = self.kind.max_retries
        if retries is not None and self.queue.failures(key) >= retries:
            self.queue.forget(key)
            log.debug("giving up", extra=kv(kind=name, key=shown, error=str(exc)))
            return
        conflict = isinstance(exc, ApiError) and exc.conflict
        if conflict:
            # Someone else wrote first: our cache catches up within milliseconds, so retry
            # soon rather than backing off for minutes.
            delay = min(self.queue.base_delay * 2 ** self.queue.failures(key), 1.0)
            self.queue.add_after(key, delay)
        else:
            delay = self.queue.add_rate_limited(key)
        log.log(
            logging.DEBUG if conflict else logging.WARNING,
            "reconcile failed, retrying",
            extra=kv(kind=name, key=shown, error=str(exc), retry_in=round(delay, 3)),
        )
