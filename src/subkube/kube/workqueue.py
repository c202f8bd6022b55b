"""A de-duplicating work queue with per-key exponential backoff (client-go's semantics),
fair across flows.

A key is never handed to two workers at once: a key added while it is being processed is
queued again when its worker calls done().

Keys wait in one FIFO per flow (for the syncer: per namespace), and workers take from the
flows in turn. A namespace that queues 5,000 pods delays another's few by one turn each,
not by 5,000 keys: what Kubernetes' API Priority and Fairness does for requests, here for
the syncer's work.
"""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down; workers should return."""


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        flow: Callable[[K], Hashable] | None = None,
    ) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        # FLOW(key) names the key's flow; without it, one flow: plain FIFO.
        self._flow = flow or (lambda _key: None)
        self._flows: dict[Hashable, deque[K]] = {}
        # The flows with keys waiting, in the order they take their next turn.
        self._turns: deque[Hashable] = deque()
        self._length = 0
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutdown = False
        self.adds = 0

    def __len__(self) -> int:
        return self._length

    def _push(self, key: K) -> None:
        flow = self._flow(key)
        waiting = self._flows.get(flow)
        if waiting is None:
            waiting = self._flows[flow] = deque()
            self._turns.append(flow)
        waiting.append(key)
        self._length += 1

    def _pop(self) -> K:
        flow = self._turns.popleft()
        waiting = self._flows[flow]
        key = waiting.popleft()
        self._length -= 1
        if waiting:
            self._turns.append(flow)
        else:
            del self._flows[flow]
        return key

    @property
    def processing(self) -> int:
        return len(self._processing)

    def add(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self.adds += 1
        self._dirty.add(key)
        if key not in self._processing:
            self._push(key)
            self._wake()

    def add_after(self, key: K, delay: float) -> None:
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        when = loop.time() + delay
        if existing is not None and existing.when() <= when:
            return
        if existing is not None:
            existing.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> float:
        """Requeue after an exponentially growing delay; returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self.base_delay * (2**failures), self.max_delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self) -> K:
        """The next key; raises ShutDown once the queue is shut down."""
        while not self._length:
            if self._shutdown:
                raise ShutDown
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Pass a wake-up we may have consumed on to another worker.
                if waiter.done() and not waiter.cancelled():
                    self._wake()
                raise
        if self._shutdown:
            raise ShutDown
        key = self._pop()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._push(key)
            self._wake()

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once nothing is queued, processing or waiting on a timer (tests, resync)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._length and not self._processing and not self._timers:
                return True
            await asyncio.sleep(0.01)
        return False


async def process(
    queue: WorkQueue[K],
    handle: Callable[[K], Awaitable[None]],
    on_error: Callable[[K, Exception], None],
) -> None:
    """A worker: take keys until shutdown; forget a key's failures when HANDLE succeeds,
    hand failures to ON_ERROR (which usually requeues with backoff)."""
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await handle(key)
            queue.forget(key)
        except Exception as exc:  # one bad key must not stop the worker
            on_error(key, exc)
        finally:
            queue.done(key)
        # Neither a full queue's get() nor a reconcile that finds nothing to write gives
        # the loop back: a restarted syncer's 10,000 such keys held it for 5.7 s, while
        # the syncer's next kinds waited to start and the front door to proxy.
        await asyncio.sleep(0)
