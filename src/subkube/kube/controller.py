"""A work queue with its workers: the loop of the local host's small controllers."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from subkube.kube.workqueue import WorkQueue, process
from subkube.log import kv

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class Controller(Generic[K]):
    def __init__(
        self, name: str, reconcile: Callable[[K], Awaitable[None]], workers: int = 1
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue: WorkQueue[K] = WorkQueue(base_delay=0.5, max_delay=30.0)
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
            asyncio.create_task(process(self.queue, self.reconcile, self._failed))
            for _ in range(self.workers)
        ]

    async def stop(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
