"""The engine and the to-host rules on an in-memory API: the four rules, stale-UID
replacement, a relist after 410, a conflict retried, and references deciding what syncs."""

import dataclasses

from subkube.kube.resource import CONFIGMAPS, PODS
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.engine import Engine
from subkube.syncer.manager import list_host_copies
from subkube.syncer.references import FORCE_SYNC_ANNOTATION
from subkube.syncer.resources.configmaps.kind import ConfigMaps
from subkube.syncer.resources.pods.kind import Pods
from tests.unit.rig import HOST_NS, VC, Rig, eventually, rig_fixture

# Pods are enabled, not run: what they use syncs.
every_cm = rig_fixture({"toHost": {"configMaps": {"all": True}}}, ConfigMaps, referrers=[Pods])
used_cm = rig_fixture({}, ConfigMaps, referrers=[Pods])


def cm(name: str, ns: str = "demo", **data: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "data": dict(data)}


async def test_create_update_status_and_delete(every_cm: Rig) -> None:
    r = every_cm
    made = await r.virtual.create(CONFIGMAPS, cm("web", a="1"))
    copy = await eventually(lambda: r.host_copy(CONFIGMAPS, "web"), "the host copy")
    assert copy["data"] == {"a": "1"}
    assert copy["metadata"]["annotations"][names.ANNOTATION_UID] == made["metadata"]["uid"]
    assert copy["metadata"]["ownerReferences"][0]["uid"] == "owner-uid"

    await r.virtual.patch(CONFIGMAPS, "web", {"data": {"a": "2"}}, "demo")

    async def updated() -> bool:
        c = await r.host_copy(CONFIGMAPS, "web")
        return c is not None and c["data"] == {"a": "2"}

    await eventually(updated, "the update on the host")

    # Someone edits the host copy: the engine puts back what it owns.
    await r.host.patch(CONFIGMAPS, copy["metadata"]["name"], {"data": {"a": "x"}}, HOST_NS)
    await eventually(updated, "the host edit undone")

    await r.virtual.delete(CONFIGMAPS, "web", "demo")

    async def gone() -> bool:
        return await r.host_copy(CONFIGMAPS, "web") is None

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
    await r.idle()
    kept = await r.host_copy(CONFIGMAPS, "mine")
    assert kept is not None
    assert kept["data"] == {"owner": "someone else"}


async def test_a_copy_of_an_older_object_of_that_name_is_replaced(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("web", v="old"))
    old = await eventually(lambda: r.host_copy(CONFIGMAPS, "web"), "the first copy")
    # While the syncer is away, the tenant replaces the object: same name, new UID.
    (engine,) = r.engines
    await engine.stop()
    r.engines.remove(engine)
    await r.virtual.delete(CONFIGMAPS, "web", "demo")
    new = await r.virtual.create(CONFIGMAPS, cm("web", v="new"))
    kind = engine.kind
    kind.queue = type(kind.queue)()
    await r.start(kind)

    async def replaced() -> bool:
        c = await r.host_copy(CONFIGMAPS, "web")
        return c is not None and c["metadata"]["uid"] != old["metadata"]["uid"]

    await eventually(replaced, "the stale copy replaced")
    fresh = await r.host_copy(CONFIGMAPS, "web")
    assert fresh is not None
    assert fresh["metadata"]["annotations"][names.ANNOTATION_UID] == new["metadata"]["uid"]
    assert fresh["data"] == {"v": "new"}


async def test_changes_missed_behind_a_410_are_found_by_the_relist(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("before", a="1"))
    await eventually(lambda: r.host_copy(CONFIGMAPS, "before"), "the first copy")
    virtual_informer = r.kind(ConfigMaps).virtual
    relists = virtual_informer.relists
    # The watch breaks and the API server no longer holds its resourceVersion: resuming
    # gets 410, and only a relist sees what happened meanwhile.
    # Two watches on the virtual side: ConfigMaps, and the pods that use them.
    r.virtual.fail_next("watch", 410, times=2)
    r.virtual.drop_watches()
    await r.virtual.create(CONFIGMAPS, cm("during", b="2"))
    await eventually(lambda: r.host_copy(CONFIGMAPS, "during"), "the object created behind the 410")
    await eventually(lambda: virtual_informer.relists > relists, "a relist")


async def test_a_conflict_is_retried_soon(every_cm: Rig) -> None:
    r = every_cm
    await r.virtual.create(CONFIGMAPS, cm("web", a="1"))
    await eventually(lambda: r.host_copy(CONFIGMAPS, "web"), "the copy")
    r.host.fail_next("patch", 409, times=2)
    patches = r.host.calls["patch"]
    await r.virtual.patch(CONFIGMAPS, "web", {"data": {"a": "2"}}, "demo")

    async def updated() -> bool:
        c = await r.host_copy(CONFIGMAPS, "web")
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
    await eventually(lambda: r.host_copy(CONFIGMAPS, "cfg"), "the used ConfigMap")
    await eventually(lambda: r.host_copy(CONFIGMAPS, "forced"), "the forced ConfigMap")
    assert await r.host_copy(CONFIGMAPS, "unused") is None

    await r.virtual.delete(PODS, "a", "demo")
    await r.idle()
    assert await r.host_copy(CONFIGMAPS, "cfg") is not None, "b still uses it"

    await r.virtual.delete(PODS, "b", "demo")

    async def gone() -> bool:
        return await r.host_copy(CONFIGMAPS, "cfg") is None

    await eventually(gone, "the ConfigMap no pod uses gone from the host")


nothing_running = rig_fixture({"toHost": {"configMaps": {"all": True}}})


async def test_a_prepared_kind_lists_at_once_and_writes_only_once_started(
    nothing_running: Rig,
) -> None:
    r = nothing_running
    await r.virtual.create(CONFIGMAPS, cm("early", a="1"))
    engine = Engine(ConfigMaps(r.ctx))
    await engine.prepare()
    try:
        informers = r.ctx.cache.informers()
        assert informers
        assert all(i.running for i in informers)
        await eventually(lambda: all(i.synced.is_set() for i in informers), "lists done")
        assert await r.host_copy(CONFIGMAPS, "early") is None, "not started yet"
        await engine.start()
        await eventually(lambda: r.host_copy(CONFIGMAPS, "early"), "the host copy")
    finally:
        await engine.stop()


async def test_a_syncer_goes_on_from_host_copies_listed_before_it_started(every_cm: Rig) -> None:
    """As a restarted runner: the host's copies list while the control plane starts, and the
    syncer, made later, reads that same cache, without listing the host again."""
    r = every_cm
    for name in ("kept", "gone"):
        await r.virtual.create(CONFIGMAPS, cm(name, a="1"))
    await eventually(lambda: r.host_copy(CONFIGMAPS, "gone"), "both copied")
    await r.stop()
    await r.virtual.delete(CONFIGMAPS, "gone", "demo")
    await r.virtual.create(CONFIGMAPS, cm("new", a="1"))

    prefetched = list_host_copies(r.host, r.ctx.sync, host_namespace=HOST_NS, vcluster=VC)
    listed = prefetched.informers()
    await eventually(lambda: all(i.synced.is_set() for i in listed), "the host's lists")
    ctx = dataclasses.replace(r.ctx, prefetched=prefetched)
    engine = Engine(ConfigMaps(ctx))
    await engine.start()
    try:
        await eventually(lambda: r.host_copy(CONFIGMAPS, "new"), "the new one copied")
        await eventually(
            lambda: _missing(r, "gone"), "the copy of the one deleted meanwhile removed"
        )
        assert await r.host_copy(CONFIGMAPS, "kept") is not None
        host_cms = ctx.owned(CONFIGMAPS)
        assert host_cms in listed
        assert host_cms.relists == 1, "the syncer used the list made before it"
    finally:
        await engine.stop()
        await ctx.cache.stop()


async def _missing(r: Rig, name: str) -> bool:
    return await r.host_copy(CONFIGMAPS, name) is None
