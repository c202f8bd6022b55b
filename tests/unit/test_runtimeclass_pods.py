"""Pods naming a RuntimeClass, on an in-memory API: a tenant's class runs as the host class
of the same handler, with the host's overhead and scheduling left to the host's admission;
a pod whose handler no host class has is refused with a Warning and goes once one appears;
without sync.fromHost.runtimeClasses a tenant's class is refused, naming that setting."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import EVENTS, PODS, RUNTIMECLASSES
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine
from subkube.syncer.resources.hostclasses.translate import FROM_HOST_LABEL
from subkube.syncer.resources.pods.kind import Pods

VC, HOST_NS, NS = "vc1", "team-a", "demo"
MAPPED = {"fromHost": {"runtimeClasses": {"enabled": True}}}


class Rig:
    def __init__(self, sync: dict[str, Any]) -> None:
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
            workload_service_account="vc-workload-vc1",
            sync=Sync.model_validate(sync),
        )
        self.engine = Engine(Pods(self.ctx))

    async def host_pod(self, name: str) -> Obj | None:
        return await self.host.get_or_none(PODS, names.host_name(name, NS, VC), HOST_NS)

    async def warnings(self, name: str) -> list[str]:
        events = (await self.virtual.list(EVENTS, NS))["items"]
        return [e["message"] for e in events if e["involvedObject"]["name"] == name]


async def started(sync: dict[str, Any], *classes: tuple[str, Obj]) -> Rig:
    r = Rig(sync)
    for side, obj in classes:
        await (r.virtual if side == "virtual" else r.host).create(RUNTIMECLASSES, obj)
    await r.engine.start()
    return r


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for r in made:
        await r.engine.stop()
        await r.ctx.cache.stop()


async def eventually(check: Callable[[], Any], what: str) -> Any:
    for _ in range(400):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.005)
    pytest.fail(f"never: {what}")


def runtime_class(name: str, handler: str, **extra: Any) -> Obj:
    return {"metadata": {"name": name}, "handler": handler, **extra}


def pod(name: str, runtime: str | None, **spec: Any) -> Obj:
    if runtime:
        spec["runtimeClassName"] = runtime
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


TENANT_SCHEDULING = {
    "nodeSelector": {"runtime.tenant/gvisor": "yes"},
    "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
}


async def test_a_tenants_class_runs_as_the_host_class_of_its_handler(rigs: list[Rig]) -> None:
    r = await started(
        MAPPED,
        ("host", runtime_class("kata", "kata-qemu")),
        ("host", runtime_class("sandbox", "runsc", overhead={"podFixed": {"cpu": "100m"}})),
        ("virtual", runtime_class("gvisor", "runsc", scheduling=TENANT_SCHEDULING)),
    )
    rigs.append(r)
    # As the virtual API server's RuntimeClass admission leaves it: the class's overhead
    # and scheduling merged into the pod's own.
    await r.virtual.create(
        PODS,
        pod(
            "web",
            "gvisor",
            overhead={"cpu": "250m"},
            nodeSelector={"disk": "ssd", "runtime.tenant/gvisor": "yes"},
            tolerations=[
                {"key": "own", "operator": "Exists"},
                {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"},
            ],
        ),
    )
    hpod = await eventually(lambda: r.host_pod("web"), "the host pod")
    spec = hpod["spec"]
    assert spec["runtimeClassName"] == "sandbox"
    assert "overhead" not in spec, "the host's admission sets the host class's"
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [{"key": "own", "operator": "Exists"}]


async def test_a_host_class_shown_inside_keeps_its_name(rigs: list[Rig]) -> None:
    copy = runtime_class("kata", "kata-qemu")
    copy["metadata"]["labels"] = {FROM_HOST_LABEL: "true"}
    r = await started(MAPPED, ("host", runtime_class("kata", "kata-qemu")), ("virtual", copy))
    rigs.append(r)
    await r.virtual.create(PODS, pod("web", "kata"))
    hpod = await eventually(lambda: r.host_pod("web"), "the host pod")
    assert hpod["spec"]["runtimeClassName"] == "kata"


async def test_a_handler_the_host_lacks_is_refused_until_it_has_one(rigs: list[Rig]) -> None:
    r = await started(MAPPED, ("virtual", runtime_class("wasm", "spin")))
    rigs.append(r)
    await r.virtual.create(PODS, pod("web", "wasm"))
    (message,) = await eventually(lambda: r.warnings("web"), "the Warning event")
    assert 'no RuntimeClass on the host has handler "spin"' in message
    vpod = await r.virtual.get(PODS, "web", NS)
    (scheduled,) = vpod["status"]["conditions"]
    assert (scheduled["status"], scheduled["message"]) == ("False", message)
    assert await r.host_pod("web") is None

    await r.host.create(RUNTIMECLASSES, runtime_class("spin-rt", "spin"))
    hpod = await eventually(lambda: r.host_pod("web"), "the host pod once the host has one")
    assert hpod["spec"]["runtimeClassName"] == "spin-rt"
    assert len(await r.warnings("web")) == 1, "told once"


async def test_without_the_setting_a_tenants_class_is_refused_naming_it(rigs: list[Rig]) -> None:
    r = await started({}, ("virtual", runtime_class("gvisor", "runsc")))
    rigs.append(r)
    await r.virtual.create(PODS, pod("web", "gvisor"))
    (message,) = await eventually(lambda: r.warnings("web"), "the Warning event")
    assert "sync.fromHost.runtimeClasses" in message
    assert await r.host_pod("web") is None
    await r.virtual.create(PODS, pod("plain", None))
    await eventually(lambda: r.host_pod("plain"), "a pod without a class still goes")
