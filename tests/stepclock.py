"""A clock for tasks that sleep until a wall-clock time: time moves only when a test says."""

import asyncio
import datetime as dt


class StepClock:
    def __init__(self, now: dt.datetime) -> None:
        self._now = now
        self._changed = asyncio.Condition()
        self.naps = 0

    def now(self) -> dt.datetime:
        return self._now

    async def sleep_until(self, when: dt.datetime) -> None:
        async with self._changed:
            self.naps += 1
            self._changed.notify_all()
            await self._changed.wait_for(lambda: self._now >= when)

    async def asleep(self, naps: int, timeout: float = 60) -> None:
        """Until the task has begun its NAPS-th sleep, so all it did before is done."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.naps >= naps), timeout)

    async def advance_to(self, when: dt.datetime) -> None:
        async with self._changed:
            self._now = when
            self._changed.notify_all()
