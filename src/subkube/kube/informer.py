"""List + watch with a local cache: the syncer's view of one resource on one cluster.

Relists on 410 Gone, follows bookmarks, reconnects with backoff from the last resourceVersion,
and reports every change (including those a relist discovers) to its handlers.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from subkube.kube.gcpause import collector_paused
from subkube.kube.packed import Packed
from subkube.kube.resource import Resource, key_of
from subkube.kube.rest import TRANSIENT, ApiError, Kube, Obj
from subkube.log import kv

log = logging.getLogger(__name__)

Key = tuple[str, str]
# (event type "ADDED" | "MODIFIED" | "DELETED", the object now (or last seen, when deleted))
Handler = Callable[[str, Obj], None]
# The index values of one cached object (client-go's IndexFunc): "pods by node", …
IndexFunc = Callable[[Obj], list[str]]


# The index of a namespaced resource's objects by namespace (see `in_namespace`).
BY_NAMESPACE = "namespace"


def namespace_of(obj: Obj) -> list[str]:
    return [obj.get("metadata", {}).get("namespace", "")]


def slim(obj: Obj) -> Obj:
    """Drop managedFields before caching: no reconcile reads them, and on pods they are a
    large share of the object (client-go informers use the same transform)."""
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


class Informer:
    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        name: str = "",
        watch_timeout: int = 300,
        keep: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.name = name or resource.plural
        self.watch_timeout = watch_timeout
        # What the cache holds of each object (client-go's transform): a reduced copy keeps
        # the memory of a watch over every pod small. It must keep the metadata's name,
        # namespace and resourceVersion. Handlers still receive whole objects.
        self.keep = keep or slim
        # Packed: a watch over every pod of a cluster is most of a syncer's memory.
        self.cache: MutableMapping[Key, Obj] = Packed()
        self.handlers: list[Handler] = []
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[Key]]] = {}
        # Each cached key's values in each index: a put or drop takes the old ones from
        # here rather than decoding the old object again.
        self._values: dict[str, dict[Key, list[str]]] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        self._task: asyncio.Task[None] | None = None

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.cache.get((namespace, name))

    def has(self, namespace: str, name: str) -> bool:
        """Whether the object is cached: no copy is decoded to tell."""
        return (namespace, name) in self.cache

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Keep the cached objects findable by FUNC's values (idempotent per NAME, so every
        reader of a shared informer may declare the index it needs)."""
        if name in self._index_funcs:
            return
        self._index_funcs[name] = func
        self._indexes[name], self._values[name] = {}, {}
        for key, obj in self.cache.items():
            self._index(name, key, func(obj))

    def by_index(self, name: str, value: str) -> list[Obj]:
        keys = self._indexes[name].get(value, ())
        return [self.cache[k] for k in keys if k in self.cache]

    def in_namespace(self, namespace: str) -> list[Obj]:
        """The cached objects of NAMESPACE, decoding no other: once indexed by namespace
        (`add_index(BY_NAMESPACE, namespace_of)`)."""
        return self.by_index(BY_NAMESPACE, namespace)

    def keys_by_index(self, name: str, value: str) -> list[Key]:
        """The keys by_index would give the objects of, without decoding them."""
        return [k for k in self._indexes[name].get(value, ()) if k in self.cache]

    def index_values(self, name: str) -> list[str]:
        return [v for v, keys in self._indexes[name].items() if keys]

    def _index(self, name: str, key: Key, values: list[str]) -> None:
        """KEY's values in the index NAME are VALUES now (none: it is gone)."""
        index, known = self._indexes[name], self._values[name]
        for value in known.pop(key, ()):
            index.get(value, set()).discard(key)
        for value in values:
            index.setdefault(value, set()).add(key)
        if values:
            known[key] = values

    def _put(self, key: Key, obj: Obj) -> None:
        self.cache[key] = obj
        for name, func in self._index_funcs.items():
            self._index(name, key, func(obj))

    def _drop(self, key: Key) -> Obj | None:
        old = self.cache.pop(key, None)
        for name in self._index_funcs:
            self._index(name, key, [])
        return old

    def write_through(self, obj: Obj, based_on: Obj | None) -> None:
        """Put the result of our own write into the cache, so the next reconcile sees it
        before the watch delivers it, but only if the cache still holds what that write
        was based on (BASED_ON, or nothing for a create). The watch may already have
        delivered later versions while the write was in flight, and those must not be
        replaced by an older one."""
        obj = self.keep(obj)
        key = key_of(obj)
        current = self.cache.get(key)
        if based_on is None:
            if current is None:
                self._put(key, obj)
            return
        if current is not None and current.get("metadata", {}).get(
            "resourceVersion"
        ) == based_on.get("metadata", {}).get("resourceVersion"):
            self._put(key, obj)

    def items(self) -> list[Obj]:
        return list(self.cache.values())

    def _emit(self, event: str, obj: Obj) -> None:
        for handler in self.handlers:
            try:
                handler(event, obj)
            except Exception:
                log.exception("informer handler failed", extra=kv(informer=self.name))

    async def relist(self) -> None:
        with collector_paused():
            await self._relist()

    async def _relist(self) -> None:
        # The first list may come from the API server's watch cache, as client-go's does; a
        # relist follows an expired watch or a failure, and reads the store.
        page = await self.kube.list(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            resource_version="0" if self.relists == 0 else "",
        )
        fresh: dict[Key, Obj] = {}
        for item in page.get("items", []):
            item.setdefault("apiVersion", self.resource.api_version)
            item.setdefault("kind", self.resource.kind)
            fresh[key_of(item)] = item
        old = self.cache
        self.cache = Packed()
        for name in self._index_funcs:
            self._indexes[name].clear()
            self._values[name].clear()
        for key, obj in fresh.items():
            self._put(key, self.keep(obj))
        self.resource_version = page.get("metadata", {}).get("resourceVersion", "")
        self.relists += 1
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", obj)
            elif before.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._emit("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj)
        self.synced.set()

    async def _watch_once(self) -> None:
        async for event in self.kube.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            timeout_seconds=self.watch_timeout,
        ):
            kind = event.get("type")
            obj: Any = event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code")
                raise ApiError(int(code or 500), obj, "WATCH", self.resource.path(self.namespace))
            rv = obj.get("metadata", {}).get("resourceVersion", "")
            if kind == "BOOKMARK":
                self.resource_version = rv or self.resource_version
                continue
            key = key_of(obj)
            if kind == "DELETED":
                last = self._drop(key) or obj
                self._emit("DELETED", obj if obj.get("metadata") else last)
            elif kind in ("ADDED", "MODIFIED"):
                self._put(key, self.keep(obj))
                self._emit(kind, obj)
            self.resource_version = rv or self.resource_version

    async def run(self) -> None:
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self.relist()
                    need_list = False
                await self._watch_once()
                backoff = 0.2
            except ApiError as exc:
                if exc.gone:
                    log.info("resourceVersion too old, relisting", extra=kv(informer=self.name))
                    need_list = True
                    continue
                log.warning("watch failed", extra=kv(informer=self.name, error=str(exc)))
                need_list = need_list or exc.status >= 500
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
            except TRANSIENT as exc:
                log.info(
                    "watch interrupted, reconnecting",
                    extra=kv(informer=self.name, error=type(exc).__name__),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=f"informer-{self.name}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Started again, it has listed only once it relisted: what it holds may be old.
        self.synced.clear()
