"""Mirror host cluster-scoped classes into the virtual cluster, one direction only.

Every host object of the kind gets a copy inside labelled as coming from the host; copies
whose host object is gone are removed; tenant edits to a copy are put back. An object a
tenant made under the same name is left alone. Class objects are mostly immutable, so a
changed one is replaced (delete and create) rather than updated.
"""

import asyncio
import logging

from subkube.kube.controller import Controller
from subkube.kube.informer import Informer
from subkube.kube.resource import STORAGECLASSES, Resource
from subkube.kube.rest import ApiError, Kube
from subkube.log import kv
from subkube.syncer.resources.hostclasses import translate

log = logging.getLogger(__name__)

CLASSES = {
    "storageClasses": STORAGECLASSES,
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
        self.controller: Controller[str] = Controller(f"mirror-{resource.plural}", self.reconcile)
        for informer in (self.host, self.virtual):
            informer.add_handler(lambda _t, o: self.controller.add(o["metadata"]["name"]))

    async def start(self) -> None:
        self.host.start()
        self.virtual.start()
        await asyncio.gather(self.host.synced.wait(), self.virtual.synced.wait())
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()
        await self.host.stop()
        await self.virtual.stop()

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
