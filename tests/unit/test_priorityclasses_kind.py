"""The PriorityClasses kind on an in-memory API: cluster-scoped host copies made, patched,
replaced when their value changes, capped by maxValue and deleted; the built-in and the
host's classes never copied; another vcluster's copies never touched."""

from subkube.kube.resource import PRIORITYCLASSES
from subkube.kube.rest import Obj
from subkube.syncer.resources.hostclasses.translate import FROM_HOST_LABEL
from subkube.syncer.resources.priorityclasses import translate
from subkube.syncer.resources.priorityclasses.kind import PriorityClasses
from tests.unit.rig import OTHER_NS, VC, Rig, eventually, host_cluster_name, rig_fixture

rig = rig_fixture({"toHost": {"priorityClasses": {"enabled": True, "maxValue": 100000}}})


def priority_class(name: str, value: int, **extra: object) -> Obj:
    return {"metadata": {"name": name}, "value": value, **extra}


async def test_copies_follow_the_tenants_classes(rig: Rig) -> None:
    await rig.start(PriorityClasses)
    made = await rig.virtual.create(
        PRIORITYCLASSES, priority_class("high", 1000, globalDefault=True, description="a")
    )
    copy = await eventually(lambda: rig.host_copy(PRIORITYCLASSES, "high"), "the host copy")
    assert copy["value"] == 1000
    assert copy["globalDefault"] is False, "never every host pod's default"
    assert copy["metadata"]["annotations"]["subkube.io/object-uid"] == made["metadata"]["uid"]

    # A description changes in place.
    await rig.virtual.patch(PRIORITYCLASSES, "high", {"description": "b"})

    async def described() -> Obj | None:
        c = await rig.host_copy(PRIORITYCLASSES, "high")
        return c if c and c.get("description") == "b" else None

    patched = await eventually(described, "the new description on the host")
    assert patched["metadata"]["uid"] == copy["metadata"]["uid"]

    # A value cannot change in place on a real API server: the copy is made anew. Above
    # maxValue, the host copy has maxValue.
    await rig.virtual.patch(PRIORITYCLASSES, "high", {"value": 500000})

    async def replaced() -> Obj | None:
        c = await rig.host_copy(PRIORITYCLASSES, "high")
        return c if c and c["metadata"]["uid"] != copy["metadata"]["uid"] else None

    assert (await eventually(replaced, "the copy replaced"))["value"] == 100000

    await rig.virtual.delete(PRIORITYCLASSES, "high")

    async def gone() -> bool:
        return await rig.host_copy(PRIORITYCLASSES, "high") is None

    await eventually(gone, "the copy deleted")


async def test_built_in_and_host_classes_are_not_copied(rig: Rig) -> None:
    await rig.start(PriorityClasses)
    await rig.virtual.create(PRIORITYCLASSES, priority_class("system-node-critical", 2000001000))
    mirrored = priority_class("host-batch", 10)
    mirrored["metadata"]["labels"] = {FROM_HOST_LABEL: "true"}
    await rig.virtual.create(PRIORITYCLASSES, mirrored)
    await rig.virtual.create(PRIORITYCLASSES, priority_class("mine", 10))
    await eventually(lambda: rig.host_copy(PRIORITYCLASSES, "mine"), "the tenant's class copied")
    await rig.idle()
    copies = (await rig.host.list(PRIORITYCLASSES))["items"]
    assert [c["metadata"]["name"] for c in copies] == [host_cluster_name("mine")]


async def test_another_vclusters_copies_and_objects_not_ours_are_never_touched(rig: Rig) -> None:
    # The same vcluster name in another host namespace copied a class of the same name.
    theirs = translate.to_host(
        {"metadata": {"name": "high", "uid": "their-uid"}, "value": 7},
        vcluster=VC,
        host_namespace=OTHER_NS,
    )
    theirs = await rig.host.create(PRIORITYCLASSES, theirs)
    # A host class that happens to have the name our copy of "taken" would get.
    squatter = await rig.host.create(PRIORITYCLASSES, priority_class(host_cluster_name("taken"), 3))
    # Our own copy of a class deleted inside while the syncer was away.
    stale = translate.to_host(
        {"metadata": {"name": "old", "uid": "old-uid"}, "value": 1},
        vcluster=VC,
        host_namespace=rig.ctx.host_namespace,
    )
    await rig.host.create(PRIORITYCLASSES, stale)

    await rig.start(PriorityClasses)

    async def stale_gone() -> bool:
        return await rig.host_copy(PRIORITYCLASSES, "old") is None

    await eventually(stale_gone, "our stale copy deleted")
    await rig.virtual.create(PRIORITYCLASSES, priority_class("high", 1000))
    await rig.virtual.create(PRIORITYCLASSES, priority_class("taken", 1000))
    await eventually(lambda: rig.host_copy(PRIORITYCLASSES, "high"), "our copy")
    await rig.virtual.delete(PRIORITYCLASSES, "high")
    await rig.virtual.delete(PRIORITYCLASSES, "taken")

    async def ours_gone() -> bool:
        return await rig.host_copy(PRIORITYCLASSES, "high") is None

    await eventually(ours_gone, "our copy deleted")
    await rig.idle()
    for kept in (theirs, squatter):
        now = await rig.host.get(PRIORITYCLASSES, kept["metadata"]["name"])
        assert now["metadata"]["resourceVersion"] == kept["metadata"]["resourceVersion"]
