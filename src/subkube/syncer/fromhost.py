"""Copying a kind from the host into the vcluster, read-only inside: for each key (the copy's
namespace and name inside, "" for cluster-scoped ones):
  - host exists, copy missing or different -> make the copy inside, or bring it back in line
  - host gone, copy inside                 -> delete the copy
  - an object inside that is not a copy    -> the tenant's own: never touched
A tenant's edit to a copy is put back. A kind says which resource, how a host object looks
inside, how a copy is recognized, and, if a copy lives elsewhere than its host object or
can change in place, where and how.
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

    def virtual_key(self, hobj: Obj) -> Key:
        """Where the copy of HOBJ lives inside."""
        return self._key(hobj)

    def host_key(self, key: Key) -> Key | None:
        """Where the host object of the copy at KEY lives (None: no host object maps there)."""
        return key

    def watch(self) -> list[Informer]:
        cache = self.ctx.cache
        self.host = cache.informer(
            "host", self.resource, namespace=self.host_namespace, label_selector=self.host_selector
        )
        self.virtual = cache.informer("virtual", self.resource)
        self.host.add_handler(lambda _t, obj: self.enqueue(self.virtual_key(obj)))
        self.virtual.add_handler(lambda _t, obj: self.enqueue(self._key(obj)))
        return [self.host, self.virtual]

    @staticmethod
    def _key(obj: Obj) -> Key:
        meta = obj.get("metadata", {})
        return meta.get("namespace", ""), meta.get("name", "")

    def all_keys(self) -> Iterable[Key]:
        for obj in self.host.items():
            yield self.virtual_key(obj)
        for obj in self.virtual.items():
            yield self._key(obj)

    def synced_count(self) -> int:
        return sum(1 for obj in self.virtual.items() if self.is_copy(obj))

    async def reconcile(self, key: Key) -> None:
        namespace, name = key
        vobj = self.virtual.get(namespace, name)
        if vobj is not None and not self.is_copy(vobj):
            return
        host_key = self.host_key(key)
        hobj = self.host.get(*host_key) if host_key is not None else None
        if hobj is None:
            if vobj is not None:
                await self._delete_copy(vobj)
                log.info("host object gone, copy removed", extra=kv(kind=self.name, name=name))
            return
        desired = self.to_virtual(hobj)
        if vobj is None:
            if await self.create_copy(desired) is not None:
                log.info("host object copied inside", extra=kv(kind=self.name, name=name))
        elif self.differs(desired, vobj):
            await self.update_copy(desired, vobj)

    async def create_copy(self, desired: Obj) -> Obj | None:
        """Make the copy inside; None when an object of its name appeared meanwhile."""
        try:
            created = await self.ctx.virtual.create(
                self.resource, desired, desired["metadata"].get("namespace")
            )
        except ApiError as exc:
            if not exc.already_exists:
                raise
            return None
        self.virtual.write_through(created, None)
        self.count("create")
        return created

    async def update_copy(self, desired: Obj, vobj: Obj) -> None:
        """Bring a copy that differs from DESIRED back in line. Class objects are mostly
        immutable: a changed one is made anew."""
        await self._delete_copy(vobj)
        await self.create_copy(desired)

    async def _delete_copy(self, vobj: Obj) -> None:
        meta = vobj["metadata"]
        await self.ctx.virtual.delete(
            self.resource, meta["name"], meta.get("namespace"), uid=meta["uid"]
        )
        self.count("delete")
