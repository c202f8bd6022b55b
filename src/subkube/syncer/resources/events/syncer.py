"""Events: host -> virtual, for events about objects this vcluster synced."""

import asyncio
import logging

from subkube.aio import cancel_all
from subkube.kube.informer import Informer
from subkube.kube.resource import EVENTS
from subkube.kube.rest import ApiError, Obj
from subkube.kube.workqueue import WorkQueue, process
from subkube.log import kv
from subkube.syncer.context import SyncContext
from subkube.syncer.resources.events import translate

log = logging.getLogger(__name__)


class HostEvents:
    def __init__(self, ctx: SyncContext, host_objects: dict[str, Informer]) -> None:
        """HOST_OBJECTS: kind -> the informer caching our host objects of that kind."""
        self.ctx = ctx
        self.host_objects = host_objects
        self.events = Informer(ctx.host, EVENTS, namespace=ctx.host_namespace, name="host-events")
        self.queue: WorkQueue[tuple[str, str]] = WorkQueue()
        self.events.add_handler(self._on_event)
        self._tasks: list[asyncio.Task[None]] = []

    def _on_event(self, kind: str, obj: Obj) -> None:
        if (
            kind != "DELETED"
            and obj.get("involvedObject", {}).get("kind") in translate.SYNCED_KINDS
        ):
            self.queue.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    async def start(self) -> None:
        self._tasks.append(self.events.start())
        await self.events.synced.wait()
        self._tasks += [asyncio.create_task(self._worker()) for _ in range(4)]

    async def stop(self) -> None:
        self.queue.shutdown()
        await cancel_all(self._tasks)

    async def _worker(self) -> None:
        await process(self.queue, self.reconcile, self._failed)

    def _failed(self, key: tuple[str, str], exc: Exception) -> None:
        # Events are best effort: a few retries, then let it go.
        log.debug("event copy failed", extra=kv(event=key[1], error=str(exc)))
        if self.queue.failures(key) < 5:
            self.queue.add_rate_limited(key)

    async def reconcile(self, key: tuple[str, str]) -> None:
        hevent = self.events.get(*key)
        if hevent is None:
            return
        ref = hevent["involvedObject"]
        informer = self.host_objects.get(ref.get("kind", ""))
        involved = informer.get(self.ctx.host_namespace, ref.get("name", "")) if informer else None
        if involved is None:
            return
        vevent = translate.to_virtual(hevent, involved, host_namespace=self.ctx.host_namespace)
        if vevent is None:
            return
        vmeta = vevent["metadata"]
        existing = await self.ctx.virtual.get_or_none(EVENTS, vmeta["name"], vmeta["namespace"])
        if existing is None:
            try:
                await self.ctx.virtual.create(EVENTS, vevent, vmeta["namespace"])
            except ApiError as exc:
                # The namespace may be terminating; events are best effort.
                if exc.status not in (403, 404, 409):
                    raise
            return
        if existing.get("count") != vevent["count"] or existing.get("message") != vevent["message"]:
            await self.ctx.virtual.patch(
                EVENTS,
                vmeta["name"],
                {
                    "count": vevent["count"],
                    "message": vevent["message"],
                    "lastTimestamp": vevent.get("lastTimestamp"),
                },
                vmeta["namespace"],
            )
