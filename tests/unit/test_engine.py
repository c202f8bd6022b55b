"""The engine and the to-host rules on an in-memory API: the four rules, stale-UID
replacement, a relist after 410, a conflict retried, and references deciding what syncs."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import CONFIGMAPS, PODS
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine
from subkube.syncer.references import FORCE_SYNC_ANNOTATION
from subkube.syncer.resources.configmaps.kind import ConfigMaps
from subkube.syncer.resources.pods.kind import Pods

VC, HOST_NS = "vc1", "team-a"


@dataclass
class Rig:
    virtual: MemoryKube
    host: MemoryKube
    engine: Engine

    async def host_cm(self, name: str, ns: str = "demo") -> Obj | None:
        return await self.host.get_or_none(CONFIGMAPS, names.host_name(name, ns, VC), HOST_NS)


async def rig(sync: dict[str, Any]) -> Rig:
    virtual, host = MemoryKube(), MemoryKube()
    owner = {"metadata": {"name": VC, "namespace": HOST_NS, "uid": "owner-uid"}}
    ctx = SyncContext(
        vcluster=VC,
        host_namespace=HOST_NS,
        owner_service=owner,
        virtual=virtual,
        host=host,
        sync=Sync.model_validate(sync),
        referrers=[(PODS, Pods.references)],
    )
    engine = Engine(ConfigMaps(ctx))
    await engine.start()
    return Rig(virtual, host, engine)


@pytest.fixture
async def every_cm() -> AsyncIterator[Rig]:
    r = await rig({"toHost": {"configMaps": {"all": True}}})
    yield r
    await r.engine.stop()
    await r.engine.kind.ctx.cache.stop()


@pytest.fixture
async def used_cm() -> AsyncIterator[Rig]:
    r = await rig({})
    yield r
    await r.engine.stop()
    await r.engine.kind.ctx.cache.stop()


async def eventually(check: Callable[[], Any], what: str) -> Any:
    for _ in range(400):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.005)
    pytest.fail(f"never: {what}")


def cm(name: str, ns: str = "demo", **data: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "data": dict(data)}


async def test_create_update_status_and_delete(every_cm: Rig) -> None:
    r = every_cm
    made = await r.virtual.create(CONFIGMAPS, cm("web", a="1"))
    copy = await eventually(lambda: r.host_cm("web"), "the host copy")
    assert copy["data"] == {"a": "1"}
    assert copy["metadata"]["annotations"][names.ANNOTATION_UID] == made["metadata"]["uid"]
    assert copy["metadata"]["ownerReferences"][0]["uid"] == "owner-uid"

    await r.virtual.patch(CONFIGMAPS, "web", {"data": {"a": "2"}}, "demo")

    async def updated() -> bool:
        c = await r.host_cm("web")
        return c is not None and c["data"] == {"a": "2"}

    await eventually(updated, "the update on the host")

    # Someone edits the host copy: the engine puts back what it owns.
    await r.host.patch(CONFIGMAPS, copy["metadata"]["name"], {"data": {"a": "x"}}, HOST_NS)
    await eventually(updated, "the host edit undone")

    await r.virtual.delete(CONFIGMAPS, "web", "demo")

    async def gone() -> bool:
        return await r.host_cm("web") is None

    await eventually(gone, "the host copy deleted")


async def test_a_host_object_that_is_not_ours_is_never_touched(every_cm: Rig) -> None:
    r = every_cm
    foreign = {
        "metadata": {"name": names.host_name("mine", "demo", VC), "namespace": HOST_NS},
        "data": {"owner": "someone else"},
    }
    await r.host.create(CONFIGMAPS, foreign)
    await r.virtual.create(CONFIGMAPS, cm("mine", a="1"))
    await r.virtual.delete(CONFIGMAPS, "mine", "demo")
    assert await r.engine.queue.wait_idle()
    kept = await r.host_cm("mine")
    assert kept is not None
    assert kept["data"] == {"owner": "someone else"}


async def test_a_copy_of_an_older_object_of_that_name_is_replaced(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("web", v="old"))
    old = await eventually(lambda: r.host_cm("web"), "the first copy")
    # While the syncer is away, the tenant replaces the object: same name, new UID.
    await r.engine.stop()
    await r.virtual.delete(CONFIGMAPS, "web", "demo")
    new = await r.virtual.create(CONFIGMAPS, cm("web", v="new"))
    kind = r.engine.kind
    kind.queue = type(kind.queue)()
    r.engine = Engine(kind)
    await r.engine.start()

    async def replaced() -> bool:
        c = await r.host_cm("web")
        return c is not None and c["metadata"]["uid"] != old["metadata"]["uid"]

    await eventually(replaced, "the stale copy replaced")
    fresh = await r.host_cm("web")
    assert fresh is not None
    assert fresh["metadata"]["annotations"][names.ANNOTATION_UID] == new["metadata"]["uid"]
    assert fresh["data"] == {"v": "new"}


async def test_changes_missed_behind_a_410_are_found_by_the_relist(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("before", a="1"))
    await eventually(lambda: r.host_cm("before"), "the first copy")
    virtual_informer = r.engine.kind.virtual  # type: ignore[attr-defined]
    relists = virtual_informer.relists
    # The watch breaks and the API server no longer holds its resourceVersion: resuming
    # gets 410, and only a relist sees what happened meanwhile.
    # Two watches on the virtual side: ConfigMaps, and the pods that use them.
    r.virtual.fail_next("watch", 410, times=2)
    r.virtual.drop_watches()
    await r.virtual.create(CONFIGMAPS, cm("during", b="2"))
    await eventually(lambda: r.host_cm("during"), "the object created behind the 410")

    async def relisted() -> bool:
        return bool(virtual_informer.relists > relists)

    await eventually(relisted, "a relist")


async def test_a_conflict_is_retried_soon(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("web", a="1"))
    await eventually(lambda: r.host_cm("web"), "the copy")
    r.host.fail_next("patch", 409, times=2)
    patches = r.host.calls["patch"]
    await r.virtual.patch(CONFIGMAPS, "web", {"data": {"a": "2"}}, "demo")

    async def updated() -> bool:
        c = await r.host_cm("web")
        return c is not None and c["data"] == {"a": "2"}

    await eventually(updated, "the update after two conflicts")
    assert r.host.calls["patch"] - patches == 3


async def test_only_what_pods_use_reaches_the_host(used_cm: Rig) -> None:
    r = used_cm
    await r.virtual.create(CONFIGMAPS, cm("cfg"))
    await r.virtual.create(CONFIGMAPS, cm("unused"))
    forced = cm("forced")
    forced["metadata"]["annotations"] = {FORCE_SYNC_ANNOTATION: "true"}
    await r.virtual.create(CONFIGMAPS, forced)
    for name in ("a", "b"):
        await r.virtual.create(
            PODS,
            {
                "metadata": {"name": name, "namespace": "demo"},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox"}],
                    "volumes": [{"name": "v", "configMap": {"name": "cfg"}}],
                },
            },
        )
    await eventually(lambda: r.host_cm("cfg"), "the used ConfigMap")
    await eventually(lambda: r.host_cm("forced"), "the forced ConfigMap")
    assert await r.host_cm("unused") is None

    await r.virtual.delete(PODS, "a", "demo")
    assert await r.engine.queue.wait_idle()
    assert await r.host_cm("cfg") is not None, "b still uses it"

    await r.virtual.delete(PODS, "b", "demo")

    async def gone() -> bool:
        return await r.host_cm("cfg") is None

    await eventually(gone, "the ConfigMap no pod uses gone from the host")
