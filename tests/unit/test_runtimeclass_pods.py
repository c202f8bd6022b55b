"""Pods naming a RuntimeClass, on an in-memory API: a tenant's class runs as the host class
of the same handler, with the host's overhead and scheduling left to the host's admission;
a pod whose handler no host class has is refused with a Warning and goes once one appears;
without sync.fromHost.runtimeClasses a tenant's class is refused, naming that setting."""

from typing import Any

from subkube.kube.resource import PODS, RUNTIMECLASSES
from subkube.kube.rest import Obj
from subkube.syncer.resources.hostclasses.translate import FROM_HOST_LABEL
from subkube.syncer.resources.pods.kind import Pods
from tests.unit.rig import NS, Rig, eventually, rig_fixture

# Pods start once the test has made the RuntimeClasses it needs (see `started`).
mapped = rig_fixture({"fromHost": {"runtimeClasses": {"enabled": True}}})
unmapped = rig_fixture({})


async def started(r: Rig, *classes: tuple[str, Obj]) -> Rig:
    for side, obj in classes:
        await (r.virtual if side == "virtual" else r.host).create(RUNTIMECLASSES, obj)
    await r.start(Pods)
    return r


async def warnings(r: Rig, name: str) -> list[str]:
    """What the events inside about the pod NAME say."""
    return [e["message"] for e in await r.warnings(name, NS)]


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


async def test_a_tenants_class_runs_as_the_host_class_of_its_handler(mapped: Rig) -> None:
    r = await started(
        mapped,
        ("host", runtime_class("kata", "kata-qemu")),
        ("host", runtime_class("sandbox", "runsc", overhead={"podFixed": {"cpu": "100m"}})),
        ("virtual", runtime_class("gvisor", "runsc", scheduling=TENANT_SCHEDULING)),
    )
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
    hpod = await eventually(lambda: r.host_copy(PODS, "web"), "the host pod")
    spec = hpod["spec"]
    assert spec["runtimeClassName"] == "sandbox"
    assert "overhead" not in spec, "the host's admission sets the host class's"
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [{"key": "own", "operator": "Exists"}]


async def test_a_host_class_shown_inside_keeps_its_name(mapped: Rig) -> None:
    copy = runtime_class("kata", "kata-qemu")
    copy["metadata"]["labels"] = {FROM_HOST_LABEL: "true"}
    r = await started(mapped, ("host", runtime_class("kata", "kata-qemu")), ("virtual", copy))
    await r.virtual.create(PODS, pod("web", "kata"))
    hpod = await eventually(lambda: r.host_copy(PODS, "web"), "the host pod")
    assert hpod["spec"]["runtimeClassName"] == "kata"


async def test_a_handler_the_host_lacks_is_refused_until_it_has_one(mapped: Rig) -> None:
    r = await started(mapped, ("virtual", runtime_class("wasm", "spin")))
    await r.virtual.create(PODS, pod("web", "wasm"))
    (message,) = await eventually(lambda: warnings(r, "web"), "the Warning event")
    assert 'no RuntimeClass on the host has handler "spin"' in message
    vpod = await r.virtual.get(PODS, "web", NS)
    (scheduled,) = vpod["status"]["conditions"]
    assert (scheduled["status"], scheduled["message"]) == ("False", message)
    assert await r.host_copy(PODS, "web") is None

    await r.host.create(RUNTIMECLASSES, runtime_class("spin-rt", "spin"))
    hpod = await eventually(lambda: r.host_copy(PODS, "web"), "the host pod once the host has one")
    assert hpod["spec"]["runtimeClassName"] == "spin-rt"
    assert len(await warnings(r, "web")) == 1, "told once"


async def test_without_the_setting_a_tenants_class_is_refused_naming_it(unmapped: Rig) -> None:
    r = await started(unmapped, ("virtual", runtime_class("gvisor", "runsc")))
    await r.virtual.create(PODS, pod("web", "gvisor"))
    (message,) = await eventually(lambda: warnings(r, "web"), "the Warning event")
    assert "sync.fromHost.runtimeClasses" in message
    assert await r.host_copy(PODS, "web") is None
    await r.virtual.create(PODS, pod("plain", None))
    await eventually(lambda: r.host_copy(PODS, "plain"), "a pod without a class still goes")
