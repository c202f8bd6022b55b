"""Mirror host cluster-scoped classes into the virtual cluster, one direction only.

Every host object of the kind gets a copy inside labelled as coming from the host; copies
whose host object is gone are removed; tenant edits to a copy are put back. An object a
tenant made under the same name is left alone. Class objects are mostly immutable, so a
changed one is replaced (delete and create) rather than updated.
"""

import asyncio
import logging

from subkube.aio import cancel_all
from subkube.kube.informer import Informer
from subkube.kube.resource import Resource
from subkube.kube.rest import TRANSIENT, ApiError, Kube
from subkube.kube.workqueue import WorkQueue, process
from subkube.log import kv
from subkube.syncer.resources.hostclasses import translate

log = logging.getLogger(__name__)

CLASSES = {
    "storageClasses": Resource(
        "storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False
    ),
    "ingressClasses": Resource(
        "networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False
    ),
    "priorityClasses": Resource(
        "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False
    ),
    "runtimeClasses": Resource(
        "node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", namespaced=False
    ),
}


class HostClassMirror:
    def __init__(self, host: Kube, virtual: Kube, resource: Resource) -> None:
        self.virtual_api = virtual
        self.resource = resource
        self.host = Informer(host, resource, name=f"host-{resource.plural}")
        self.virtual = Informer(virtual, resource, name=f"virtual-{resource.plural}")
        self.queue: WorkQueue[str] = WorkQueue(base_delay=0.5, max_delay=60)
        for informer in (self.host, self.virtual):
            informer.add_handler(lambda _t, o: self.queue.add(o["metadata"]["name"]))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks += [self.host.start(), self.virtual.start()]
        await asyncio.gather(self.host.synced.wait(), self.virtual.synced.wait())
        self._tasks.append(asyncio.create_task(process(self.queue, self.reconcile, self._failed)))

    async def stop(self) -> None:
        self.queue.shutdown()
        await cancel_all(self._tasks)

    def _failed(self, name: str, exc: Exception) -> None:
        if not isinstance(exc, (ApiError, *TRANSIENT)):
            log.error("mirror failed", exc_info=exc)
        log.warning(
            "mirror failed, retrying",
            extra=kv(kind=self.resource.kind, name=name, error=str(exc) or type(exc).__name__),
        )
        self.queue.add_rate_limited(name)

    async def reconcile(self, name: str) -> None:
        hobj = self.host.get("", name)
        vobj = self.virtual.get("", name)
        if vobj is not None and not translate.from_host(vobj):
            return
        if hobj is None:
            if vobj is not None:
                await self.virtual_api.delete(self.resource, name, uid=vobj["metadata"]["uid"])
                log.info("host class removed", extra=kv(kind=self.resource.kind, name=name))
            return
        desired = translate.to_virtual(hobj)
        if vobj is not None and not translate.differs(desired, vobj):
            return
        if vobj is not None:
            await self.virtual_api.delete(self.resource, name, uid=vobj["metadata"]["uid"])
        try:
            created = await self.virtual_api.create(self.resource, desired)
        except ApiError as exc:
            if not exc.already_exists:
                raise
            return
        self.virtual.write_through(created, None)
        log.info("host class mirrored", extra=kv(kind=self.resource.kind, name=name))
