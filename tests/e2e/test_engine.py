"""The generic engine between two real API servers (a "host" and a "virtual" one)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.kube.client import connect
from subkube.kube.resource import CONFIGMAPS, NAMESPACES, SERVICES
from subkube.kube.rest import Kube
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine
from subkube.syncer.resources.configmaps.kind import ConfigMaps

pytestmark = pytest.mark.e2e

HOST_NS = "team-a"
VC = "vc1"


@dataclass
class Pair:
    virtual: Kube
    host: Kube
    ctx: SyncContext


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    host_spec = ControlPlaneSpec(name="host", data_dir=tmp_path_factory.mktemp("host"))
    virt_spec = ControlPlaneSpec(name="virt", data_dir=tmp_path_factory.mktemp("virt"))
    async with (
        ControlPlane(host_spec) as host_cp,
        ControlPlane(virt_spec) as virt_cp,
        connect(host_cp.kubeconfig) as h,
        connect(virt_cp.kubeconfig) as v,
    ):
        host, virtual = Kube(h), Kube(v)
        await host.create(NAMESPACES, {"metadata": {"name": HOST_NS}})
        owner = await host.create(
            SERVICES,
            {
                "metadata": {"name": VC, "namespace": HOST_NS},
                "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
            },
        )
        ctx = SyncContext(
            vcluster=VC,
            host_namespace=HOST_NS,
            owner_service=owner,
            virtual=virtual,
            host=host,
            sync=Sync.model_validate({"toHost": {"configMaps": {"all": True}}}),
        )
        yield Pair(virtual, host, ctx)


async def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    for _ in range(int(timeout / 0.1)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"condition never became true: {check.__name__}")


async def host_cm(pair: Pair, name: str, ns: str) -> dict[str, Any] | None:
    return await pair.host.get_or_none(CONFIGMAPS, names.host_name(name, ns, VC), HOST_NS)


async def test_engine_creates_updates_repairs_and_deletes(pair: Pair) -> None:
    await pair.virtual.create(NAMESPACES, {"metadata": {"name": "demo"}})
    engine = Engine(ConfigMaps(pair.ctx))
    await engine.start()
    try:
        v = await pair.virtual.create(
            CONFIGMAPS,
            {
                "metadata": {
                    "name": "web",
                    "namespace": "demo",
                    "labels": {"app": "web", "tier": "front"},
                    "annotations": {"note": "hi"},
                },
                "data": {"k": "v1"},
            },
        )
        h = await eventually(lambda: host_cm(pair, "web", "demo"))
        meta = h["metadata"]
        assert meta["name"] == "web-x-demo-x-vc1"
        assert h["data"] == {"k": "v1"}
        assert meta["labels"]["app"] == "web"
        assert meta["labels"][names.LABEL_MANAGED_BY] == VC
        assert meta["annotations"][names.ANNOTATION_UID] == v["metadata"]["uid"]
        assert meta["annotations"]["note"] == "hi"
        assert meta["ownerReferences"][0]["uid"] == pair.ctx.owner_service["metadata"]["uid"]

        await pair.virtual.patch(
            CONFIGMAPS, "web", {"data": {"k": "v2"}, "metadata": {"labels": {"app": None}}}, "demo"
        )

        async def updated() -> bool:
            got = await host_cm(pair, "web", "demo")
            return bool(
                got and got["data"] == {"k": "v2"} and "app" not in got["metadata"]["labels"]
            )

        await eventually(updated)

        # Someone edits our fields on the host and adds a label of their own.
        await pair.host.patch(
            CONFIGMAPS,
            "web-x-demo-x-vc1",
            {
                "data": {"k": "tampered"},
                "metadata": {"labels": {"tier": "evil", "theirs": "kept"}},
            },
            HOST_NS,
        )

        async def repaired() -> bool:
            got = await host_cm(pair, "web", "demo")
            return bool(
                got
                and got["data"] == {"k": "v2"}
                and got["metadata"]["labels"]["tier"] == "front"
                and got["metadata"]["labels"].get("theirs") == "kept"
            )

        await eventually(repaired)

        await pair.virtual.delete(CONFIGMAPS, "web", "demo")
        await eventually(lambda: _is_none(host_cm(pair, "web", "demo")))
    finally:
        await engine.stop()
        await pair.ctx.cache.stop()


async def _is_none(coro: Any) -> bool:
    return await coro is None


async def test_a_restarted_engine_converges(pair: Pair) -> None:
    await pair.virtual.create(NAMESPACES, {"metadata": {"name": "restart"}})
    for name in ("stays", "goes", "renewed"):
        await pair.virtual.create(
            CONFIGMAPS, {"metadata": {"name": name, "namespace": "restart"}, "data": {"v": "1"}}
        )
    engine = Engine(ConfigMaps(pair.ctx))
    await engine.start()
    for name in ("stays", "goes", "renewed"):
        await eventually(lambda n=name: host_cm(pair, n, "restart"))
    old_uid = (await host_cm(pair, "renewed", "restart"))["metadata"]["uid"]
    await engine.stop()
    await pair.ctx.cache.stop()

    # While the syncer is down: one object deleted, one replaced by a new one of that name,
    # one changed; and a stranger's object that only looks like ours by name.
    await pair.virtual.delete(CONFIGMAPS, "goes", "restart")
    await pair.virtual.delete(CONFIGMAPS, "renewed", "restart")
    new = await pair.virtual.create(
        CONFIGMAPS, {"metadata": {"name": "renewed", "namespace": "restart"}, "data": {"v": "2"}}
    )
    await pair.virtual.patch(CONFIGMAPS, "stays", {"data": {"v": "3"}}, "restart")
    await pair.host.create(
        CONFIGMAPS,
        {
            "metadata": {
                "name": "stranger-x-restart-x-vc1",
                "namespace": HOST_NS,
                "labels": {names.LABEL_MANAGED_BY: VC},
            }
        },
    )

    engine = Engine(ConfigMaps(pair.ctx))
    await engine.start()
    try:
        await eventually(lambda: _is_none(host_cm(pair, "goes", "restart")))

        async def renewed() -> bool:
            got = await host_cm(pair, "renewed", "restart")
            return bool(
                got
                and got["metadata"]["uid"] != old_uid
                and got["metadata"]["annotations"][names.ANNOTATION_UID] == new["metadata"]["uid"]
                and got["data"] == {"v": "2"}
            )

        await eventually(renewed)

        async def changed() -> bool:
            got = await host_cm(pair, "stays", "restart")
            return bool(got and got["data"] == {"v": "3"})

        await eventually(changed)
        assert await pair.host.get_or_none(CONFIGMAPS, "stranger-x-restart-x-vc1", HOST_NS)
    finally:
        await engine.stop()
        await pair.ctx.cache.stop()
