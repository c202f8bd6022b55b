"""Copying a kind from the host into the vcluster, read-only inside: for each key (the host
object's namespace and name, "" for cluster-scoped ones):
  - host exists, copy missing or different -> (re)make the copy inside
  - host gone, copy inside                 -> delete the copy
  - an object inside that is not a copy    -> the tenant's own: never touched
A tenant's edit to a copy is put back. A kind says which resource, how a host object looks
inside, and how a copy is recognized.
"""

import logging
from collections.abc import Iterable

from subkube.kube.informer import Informer, Key
from subkube.kube.resource import Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import engine

log = logging.getLogger(__name__)


class FromHost(engine.Kind):
    resource: Resource
    workers = 2
    # Where host objects are read: None for all namespaces (cluster-scoped kinds).
    host_namespace: str | None = None
    host_selector: str | None = None

    def to_virtual(self, hobj: Obj) -> Obj:
        raise NotImplementedError

    def is_copy(self, vobj: Obj) -> bool:
        """Whether VOBJ is a copy this kind made (and so is ours to fix or delete)."""
        raise NotImplementedError

    def differs(self, desired: Obj, vobj: Obj) -> bool:
        raise NotImplementedError

    def watch(self) -> list[Informer]:
        cache = self.ctx.cache
        self.host = cache.informer(
            "host", self.resource, namespace=self.host_namespace, label_selector=self.host_selector
        )
        self.virtual = cache.informer("virtual", self.resource)
        for informer in (self.host, self.virtual):
            informer.add_handler(lambda _t, obj: self.enqueue(self._key(obj)))
        return [self.host, self.virtual]

    @staticmethod
    def _key(obj: Obj) -> Key:
        meta = obj.get("metadata", {})
        return meta.get("namespace", ""), meta.get("name", "")

    def all_keys(self) -> Iterable[Key]:
        for informer in (self.host, self.virtual):
            for obj in informer.items():
                yield self._key(obj)

    def synced_count(self) -> int:
        return sum(1 for obj in self.virtual.items() if self.is_copy(obj))

    async def reconcile(self, key: Key) -> None:
        namespace, name = key
        hobj = self.host.get(namespace, name)
        vobj = self.virtual.get(namespace, name)
        if vobj is not None and not self.is_copy(vobj):
            return
        res, api = self.resource, self.ctx.virtual
        if hobj is None:
            if vobj is not None:
                await api.delete(res, name, namespace or None, uid=vobj["metadata"]["uid"])
                self.count("delete")
                log.info("host object gone, copy removed", extra=kv(kind=self.name, name=name))
            return
        desired = self.to_virtual(hobj)
        if vobj is not None and not self.differs(desired, vobj):
            return
        if vobj is not None:
            # Class objects are mostly immutable: a changed one is made anew.
            await api.delete(res, name, namespace or None, uid=vobj["metadata"]["uid"])
        try:
            created = await api.create(res, desired, namespace or None)
        except ApiError as exc:
            if not exc.already_exists:
                raise
            return
        self.virtual.write_through(created, None)
        self.count("create")
        log.info("host object copied inside", extra=kv(kind=self.name, name=name))
