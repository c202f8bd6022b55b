"""Fake nodes: one Ready Node inside per host node that runs a tenant pod, kept alive with a
Lease, removed when no tenant pod (other than DaemonSet pods) is left on it."""

import asyncio
import contextlib
import datetime as dt
import logging

from subkube.aio import cancel_all
from subkube.binaries.pins import load_pins
from subkube.kube.informer import Informer
from subkube.kube.resource import LEASES, NODES
from subkube.kube.rest import TRANSIENT, ApiError, Kube
from subkube.log import kv
from subkube.syncer.resources.nodes import translate

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeNodes:
    def __init__(self, virtual: Kube, pods: Informer) -> None:
        self.virtual = virtual
        self.pods = pods
        self.nodes = Informer(
            virtual,
            NODES,
            label_selector=f"{translate.FAKE_NODE_LABEL}=true",
            name="virtual-fake-nodes",
        )
        self.changed = asyncio.Event()
        self.pods.add_handler(lambda _t, _o: self.changed.set())
        self.nodes.add_handler(lambda _t, _o: self.changed.set())
        self._tasks: list[asyncio.Task[None]] = []
        self.kubelet_version = load_pins().kubernetes.version

    async def start(self) -> None:
        self._tasks.append(self.nodes.start())
        await self.nodes.synced.wait()
        self._tasks.append(asyncio.create_task(self._loop(), name="fake-nodes"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), HEARTBEAT_SECONDS)
            self.changed.clear()
            try:
                await self.reconcile()
            except (ApiError, *TRANSIENT) as exc:
                log.warning("fake node sync failed", extra=kv(error=str(exc)))
                await asyncio.sleep(1)

    async def reconcile(self) -> None:
        needed = translate.needed_nodes(self.pods.items())
        have = {n["metadata"]["name"] for n in self.nodes.items()}
        now = _now()
        for name in sorted(needed - have):
            node = translate.fake_node(name, now=now, kubelet_version=self.kubelet_version)
            try:
                created = await self.virtual.create(NODES, node)
                created["status"] = node["status"]
                await self.virtual.replace_status(NODES, created)
            except ApiError as exc:
                if not exc.already_exists:
                    raise
            log.info("fake node added", extra=kv(node=name))
        for name in sorted(have - needed):
            await self.virtual.delete(NODES, name)
            await self.virtual.delete(LEASES, name, "kube-node-lease")
            log.info("fake node removed", extra=kv(node=name))
        for name in sorted(needed):
            await self._renew(name, now)

    async def _renew(self, name: str, now: str) -> None:
        try:
            await self.virtual.patch(LEASES, name, {"spec": {"renewTime": now}}, "kube-node-lease")
        except ApiError as exc:
            if not exc.not_found:
                raise
            await self.virtual.create(LEASES, translate.lease(name, now=now), "kube-node-lease")
