"""The shared informer cache: one informer per (cluster, resource, namespace, selector),
whoever reads it. Readers ask for what they read; nobody hands another its informers
(controller-runtime's manager cache)."""

import asyncio
from collections.abc import Callable, Iterable

from subkube.kube.informer import Informer
from subkube.kube.resource import Resource
from subkube.kube.rest import Kube, Obj

CacheKey = tuple[str, str, str, str, str | None]


class InformerCache:
    def __init__(self, clusters: dict[str, Kube]) -> None:
        """CLUSTERS: name ("virtual", "host") -> its API."""
        self.clusters = clusters
        self._informers: dict[CacheKey, Informer] = {}

    def informer(
        self,
        cluster: str,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        keep: Callable[[Obj], Obj] | None = None,
    ) -> Informer:
        """The informer of RESOURCE on CLUSTER, made on first request. KEEP (what its
        cache holds of each object) is decided by whoever asks first, so every reader of a
        resource must ask for the same."""
        key = (cluster, resource.group, resource.plural, namespace or "", label_selector)
        informer = self._informers.get(key)
        if informer is None:
            scope = f"{cluster}-{resource.plural}" + (
                f"[{label_selector}]" if label_selector else ""
            )
            informer = Informer(
                self.clusters[cluster],
                resource,
                namespace=namespace,
                label_selector=label_selector,
                name=scope,
                keep=keep,
            )
            self._informers[key] = informer
        return informer

    def start(self, informers: Iterable[Informer]) -> None:
        """Start INFORMERS that are not running yet."""
        for informer in informers:
            if not informer.running:
                informer.start()

    async def synced(self, informers: Iterable[Informer]) -> None:
        """Start INFORMERS that are not running yet and wait until each has listed."""
        informers = list(informers)
        self.start(informers)
        await asyncio.gather(*(informer.synced.wait() for informer in informers))

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def stop(self) -> None:
        for informer in self._informers.values():
            await informer.stop()
