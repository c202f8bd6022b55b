"""A work queue with its workers: the one worker loop of the code base. The local host's
small controllers use it as it is; the syncer's engine gives it its own queue and failure
handling (metrics, fast retries on conflicts)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from subkube.aio import cancel_all
from subkube.kube.workqueue import WorkQueue, process
from subkube.log import kv

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class Controller(Generic[K]):
    def __init__(
        self,
        name: str,
        reconcile: Callable[[K], Awaitable[None]],
        workers: int = 1,
        *,
        queue: WorkQueue[K] | None = None,
        on_error: Callable[[K, Exception], None] | None = None,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        # An empty queue is falsy (it has a length): test for None.
        self.queue: WorkQueue[K] = (
            queue if queue is not None else WorkQueue(base_delay=0.5, max_delay=30.0)
        )
        self.on_error = on_error or self._failed
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: K) -> None:
        self.queue.add(key)

    def _failed(self, key: K, exc: Exception) -> None:
        delay = self.queue.add_rate_limited(key)
        log.warning(
            "reconcile failed, retrying",
            extra=kv(
                controller=self.name, key=key, error=str(exc) or type(exc).__name__, retry_in=delay
            ),
        )

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                process(self.queue, self.reconcile, self.on_error), name=f"{self.name}-{i}"
            )
            for i in range(self.workers)
        ]

    async def stop(self) -> None:
        self.queue.shutdown()
        await cancel_all(self._tasks)
