"""When each pod was first seen and when it became Running, on one cluster, from a watch.

Times are this process's monotonic clock, so a host's and a vcluster's watch compare. A
host pod is filed under its virtual namespace and name (the syncer's annotations), so the
two sides of one pod meet.
"""

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

from subkube.kube.client import connect
from subkube.kube.informer import Informer
from subkube.kube.resource import PODS
from subkube.kube.rest import Kube, Obj
from subkube.syncer import names

Key = tuple[str, str]


def keep(obj: Obj) -> Obj:
    """All a clock needs of a pod: a cache of 10,000 pods stays a few MiB."""
    meta = obj["metadata"]
    return {
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
    }


def virtual_key(pod: Obj) -> Key:
    meta = pod["metadata"]
    annotations = meta.get("annotations") or {}
    if names.ANNOTATION_NAME in annotations:
        return annotations.get(names.ANNOTATION_NAMESPACE, ""), annotations[names.ANNOTATION_NAME]
    return meta.get("namespace", ""), meta["name"]


class PodClock:
    def __init__(self, kube: Kube, *, label_selector: str | None = None, name: str = "") -> None:
        self.seen: dict[Key, float] = {}
        self.running: dict[Key, float] = {}
        self.changed = asyncio.Event()
        self.informer = Informer(
            kube, PODS, label_selector=label_selector, name=name or "clock", keep=keep
        )
        self.informer.add_handler(self._note)

    def _note(self, event: str, pod: Obj) -> None:
        if event == "DELETED":
            return
        now = time.monotonic()
        key = virtual_key(pod)
        self.seen.setdefault(key, now)
        if (pod.get("status") or {}).get("phase") == "Running":
            self.running.setdefault(key, now)
        self.changed.set()

    async def start(self) -> None:
        self.informer.start()
        await self.informer.synced.wait()

    async def stop(self) -> None:
        await self.informer.stop()

    def reset(self) -> None:
        self.seen.clear()
        self.running.clear()

    async def wait_running(self, count: int, timeout: float, keys: set[Key] | None = None) -> None:
        """Until COUNT pods (of KEYS, if given) are Running; SystemExit after TIMEOUT."""

        def done() -> int:
            if keys is None:
                return len(self.running)
            return len(keys & self.running.keys())

        deadline = time.monotonic() + timeout
        while done() < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"timed out: {done()}/{count} pods Running")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 5))
            except TimeoutError:
                continue


async def clock_on(stack: AsyncExitStack, kubeconfig: Path, **kw: str) -> tuple[Kube, PodClock]:
    """A client of the cluster at KUBECONFIG and a running PodClock on it, both closed with
    STACK."""
    api = await stack.enter_async_context(connect(kubeconfig, pool_size=64))
    kube = Kube(api)
    clock = PodClock(kube, **kw)
    await clock.start()
    stack.push_async_callback(clock.stop)
    return kube, clock
