"""An index of which virtual objects synced pods refer to, so only those reach the host."""

from collections.abc import Callable
from typing import Any

from subkube.kube.rest import Obj
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.names import DOMAIN
from subkube.syncer.resources.pods.references import pod_references

Key = tuple[str, str]
# Called with (plural, namespace, name) whenever an object gains or loses its last referrer.
OnChange = Callable[[str, str, str], None]


class ReferenceIndex:
    def __init__(self) -> None:
        self._by_pod: dict[Key, dict[str, set[str]]] = {}
        self._counts: dict[tuple[str, str, str], int] = {}
        self.listeners: list[OnChange] = []

    def is_referenced(self, plural: str, namespace: str, name: str) -> bool:
        return self._counts.get((plural, namespace, name), 0) > 0

    def _bump(self, plural: str, namespace: str, name: str, delta: int) -> None:
        key = (plural, namespace, name)
        before = self._counts.get(key, 0)
        after = before + delta
        if after > 0:
            self._counts[key] = after
        else:
            self._counts.pop(key, None)
        if (before > 0) != (after > 0):
            for listener in self.listeners:
                listener(plural, namespace, name)

    def on_pod(self, event: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        old = self._by_pod.pop(key, {})
        new = {} if event == "DELETED" else pod_references(pod)
        if new:
            self._by_pod[key] = new
        for plural in set(old) | set(new):
            before, after = old.get(plural, set()), new.get(plural, set())
            for name in after - before:
                self._bump(plural, key[0], name, +1)
            for name in before - after:
                self._bump(plural, key[0], name, -1)


# Set to "true" on a ConfigMap or Secret to sync it even when no pod uses it.
FORCE_SYNC_ANNOTATION = f"{DOMAIN}/force-sync"


class ReferencedKind(Kind):
    """A kind synced only while a pod refers to it, unless `all` is configured."""

    def __init__(self, ctx: SyncContext, refs: ReferenceIndex | None, *, sync_all: bool) -> None:
        super().__init__(ctx)
        self.refs = refs
        self.sync_all = sync_all

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if self.sync_all or (meta.get("annotations") or {}).get(FORCE_SYNC_ANNOTATION) == "true":
            return True
        return self.refs is not None and self.refs.is_referenced(
            self.resource.plural, meta.get("namespace", ""), meta["name"]
        )
