"""What the tests of the synced kinds share: one vcluster's syncer on two in-memory APIs (the
virtual one and the host's), its kinds started on demand as the manager starts them, the host
copies they make, and a poller for what they do in their own tasks.

Another vcluster named VC lives in OTHER_NS on the same host: its cluster-scoped copies
share the host with ours."""

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

import pytest

from subkube.config.model import Sync
from subkube.kube.cache import InformerCache
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import EVENTS, Resource
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine, Kind
from subkube.syncer.tohost import ToHost

VC, HOST_NS = "vc1", "team-a"
# Where the tests' namespaced objects live inside.
NS = "demo"
OTHER_NS = "team-b"

K = TypeVar("K", bound=Kind)


class Rig:
    """The syncer of VC in HOST_NS with SYNC (the config's `sync` section), no kind running
    until `start`. REFERRERS: kinds enabled but not run here, whose objects still make the
    ConfigMaps and Secrets they name sync. `async with` stops it."""

    def __init__(
        self, sync: dict[str, Any] | None = None, *, referrers: Iterable[type[Kind]] = ()
    ) -> None:
        self.virtual, self.host = MemoryKube(), MemoryKube()
        self.ctx = SyncContext(
            vcluster=VC,
            host_namespace=HOST_NS,
            owner_service={
                "metadata": {"name": VC, "namespace": HOST_NS, "uid": "owner-uid"},
                "spec": {"clusterIP": "10.96.0.10"},
            },
            virtual=self.virtual,
            host=self.host,
            dns_service_ip="10.96.0.53",
            workload_service_account=f"vc-workload-{VC}",
            sync=Sync.model_validate(sync or {}),
        )
        self.engines: list[Engine] = []
        self._refer(referrers)

    async def __aenter__(self) -> "Rig":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _refer(self, kinds: Iterable[type[Kind]]) -> None:
        """As the manager: objects of KINDS that name ConfigMaps or Secrets make them sync."""
        for kind in kinds:
            if issubclass(kind, ToHost) and kind.references is not ToHost.references:
                referrer = (kind.resource, kind.references)
                if referrer not in self.ctx.referrers:
                    self.ctx.referrers.append(referrer)

    async def start(self, *kinds: type[Kind] | Kind) -> list[Kind]:
        """Run KINDS, in order: classes (made on this rig's context) or kinds already made.
        Those naming ConfigMaps or Secrets make them sync, as in the manager."""
        made = [k if isinstance(k, Kind) else k(self.ctx) for k in kinds]
        self._refer(type(k) for k in made)
        for kind in made:
            engine = Engine(kind)
            await engine.start()
            self.engines.append(engine)
        return made

    def kind(self, cls: type[K]) -> K:
        """The one running kind of class CLS."""
        (found,) = [e.kind for e in self.engines if isinstance(e.kind, cls)]
        return found

    async def stop(self) -> None:
        for engine in reversed(self.engines):
            await engine.stop()
        await self.ctx.cache.stop()

    async def restart(self, *kinds: type[Kind]) -> None:
        """As a new syncer process: nothing cached, KINDS started again, every object listed
        anew; returns once they are idle."""
        await self.stop()
        self.engines = []
        self.ctx.cache = InformerCache({"virtual": self.virtual, "host": self.host})
        await self.start(*kinds)
        await self.idle()

    async def idle(self) -> None:
        """Until every running kind has nothing left to do."""
        for engine in self.engines:
            assert await engine.queue.wait_idle()

    async def host_copy(self, res: Resource, name: str, namespace: str | None = None) -> Obj | None:
        """The host copy of the virtual object NAME, in NAMESPACE (NS unless given) if RES is
        namespaced; None if there is none."""
        if res.namespaced:
            host_name = names.host_name(name, namespace or NS, VC)
            return await self.host.get_or_none(res, host_name, HOST_NS)
        assert namespace is None, f"{res.plural} are cluster-scoped"
        return await self.host.get_or_none(res, host_cluster_name(name))

    async def warnings(self, name: str, namespace: str = "default") -> list[Obj]:
        """The events inside about the object NAME in NAMESPACE (a cluster-scoped object's
        are in `default`): the Warnings that tell a tenant why it never reaches the host."""
        events = (await self.virtual.list(EVENTS, namespace))["items"]
        return [e for e in events if e["involvedObject"]["name"] == name]


def rig_fixture(
    sync: dict[str, Any] | None = None,
    *kinds: type[Kind],
    referrers: Iterable[type[Kind]] = (),
) -> Any:
    """A fixture of a Rig of SYNC with KINDS running, stopped after the test; its name is
    that of the variable it is assigned to: `rig = rig_fixture({...}, Ingresses)`."""

    async def fixture() -> AsyncIterator[Rig]:
        async with Rig(sync, referrers=referrers) as rig:
            await rig.start(*kinds)
            yield rig

    return pytest.fixture(fixture)


def host_cluster_name(name: str, host_namespace: str = HOST_NS) -> str:
    """The host name of the copy of the cluster-scoped object NAME that VC in HOST_NAMESPACE
    makes."""
    return names.host_cluster_name(name, host_namespace, VC)


async def eventually(check: Callable[[], Any], what: str) -> Any:
    """CHECK's first true result (CHECK may be async), polled for two seconds or so: what
    runs in a task of its own shows only in the state it leaves. Fails the test naming WHAT."""
    for _ in range(400):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.005)
    pytest.fail(f"never: {what}")
