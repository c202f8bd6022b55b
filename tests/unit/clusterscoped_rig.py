"""What the tests of the cluster-scoped kinds share: one vcluster's syncer on in-memory APIs,
its kinds started on demand, and the host copies another vcluster of the same name, in
another host namespace, would have made."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import EVENTS, Resource
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine, Kind
from subkube.syncer.tohost import ToHost

VC, HOST_NS = "vc1", "team-a"
# Another vcluster named VC lives there: its cluster-scoped copies share the host with ours.
OTHER_NS = "team-b"


class Rig:
    def __init__(self, sync: dict[str, Any]) -> None:
        self.virtual, self.host = MemoryKube(), MemoryKube()
        self.ctx = SyncContext(
            vcluster=VC,
            host_namespace=HOST_NS,
            owner_service={"metadata": {"name": VC, "namespace": HOST_NS, "uid": "owner-uid"}},
            virtual=self.virtual,
            host=self.host,
            sync=Sync.model_validate(sync),
        )
        self.engines: list[Engine] = []

    async def start(self, *kinds: type[Kind]) -> list[Kind]:
        """Run KINDS; those naming Secrets make them sync, as in the manager."""
        self.ctx.referrers += [
            (k.resource, k.references)
            for k in kinds
            if issubclass(k, ToHost) and k.references is not ToHost.references
        ]
        started = []
        for kind in kinds:
            engine = Engine(kind(self.ctx))
            await engine.start()
            self.engines.append(engine)
            started.append(engine.kind)
        return started

    async def stop(self) -> None:
        for engine in reversed(self.engines):
            await engine.stop()
        await self.ctx.cache.stop()

    async def idle(self) -> None:
        for engine in self.engines:
            assert await engine.queue.wait_idle()

    async def host_copy(self, res: Resource, name: str) -> Obj | None:
        return await self.host.get_or_none(res, host_name(name))

    async def warnings(self, name: str) -> list[Obj]:
        """The Warning events inside about the cluster-scoped object NAME."""
        events = (await self.virtual.list(EVENTS, "default"))["items"]
        return [e for e in events if e["involvedObject"]["name"] == name]


def host_name(name: str, host_namespace: str = HOST_NS) -> str:
    return names.host_cluster_name(name, host_namespace, VC)


async def eventually(check: Callable[[], Any], what: str) -> Any:
    for _ in range(400):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.005)
    pytest.fail(f"never: {what}")
