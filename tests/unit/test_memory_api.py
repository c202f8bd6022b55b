"""MemoryKube behaves as the API server where the syncer depends on it, and the real
Informer runs against it."""

import asyncio
from typing import Any

import pytest

from subkube.kube.informer import Informer
from subkube.kube.memory import JSON_PATCH, STRATEGIC_MERGE_PATCH, MemoryKube, json_patch
from subkube.kube.resource import CONFIGMAPS, LEASES, NODES, PODS
from subkube.kube.rest import ApiError, Obj
from tests.unit.rig import eventually


def pod(name: str, ns: str = "ns", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def cm(name: str, ns: str = "ns", **data: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "data": dict(data)}


async def collect(events: Any, n: int) -> list[Obj]:
    out = []
    async with asyncio.timeout(2):
        async for event in events:
            out.append(event)
            if len(out) == n:
                break
    return out


# --- create, get, list -------------------------------------------------------------------


async def test_create_sets_server_fields_and_get_returns_copies() -> None:
    kube = MemoryKube()
    made = await kube.create(PODS, pod("a"))
    meta = made["metadata"]
    assert (made["apiVersion"], made["kind"]) == ("v1", "Pod")
    assert meta["namespace"] == "ns"
    assert len(meta["uid"]) == 36
    assert meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0

    made["spec"]["containers"] = []
    got = await kube.get(PODS, "a", "ns")
    assert got["spec"]["containers"][0]["name"] == "c"  # the caller's copy is its own
    got["metadata"]["labels"]["x"] = "y"
    assert "x" not in (await kube.get(PODS, "a", "ns"))["metadata"]["labels"]


async def test_create_takes_the_namespace_argument_and_generate_name() -> None:
    kube = MemoryKube()
    body = {"metadata": {"generateName": "web-"}, "spec": {}}
    one = await kube.create(PODS, body, "ns")
    two = await kube.create(PODS, body, "ns")
    assert one["metadata"]["name"].startswith("web-")
    assert len(one["metadata"]["name"]) == len("web-") + 5
    assert one["metadata"]["name"] != two["metadata"]["name"]
    assert body == {"metadata": {"generateName": "web-"}, "spec": {}}  # not changed


async def test_duplicates_and_missing_objects_fail_as_on_the_server() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("a"))
    with pytest.raises(ApiError) as info:
        await kube.create(PODS, pod("a"))
    assert info.value.already_exists
    assert info.value.body["kind"] == "Status"
    assert info.value.body["code"] == 409

    with pytest.raises(ApiError) as info:
        await kube.get(PODS, "b", "ns")
    assert info.value.not_found
    assert info.value.reason == "NotFound"
    assert info.value.body["message"] == 'pods "b" not found'
    assert await kube.get_or_none(PODS, "b", "ns") is None
    assert await kube.get_or_none(PODS, "a", "other") is None


async def test_resource_versions_are_one_increasing_counter() -> None:
    kube = MemoryKube()
    rvs = [
        int((await kube.create(PODS, pod("a")))["metadata"]["resourceVersion"]),
        int((await kube.create(CONFIGMAPS, cm("a")))["metadata"]["resourceVersion"]),
        int((await kube.create(NODES, {"metadata": {"name": "n"}}))["metadata"]["resourceVersion"]),
    ]
    assert rvs == sorted(rvs)
    assert len(set(rvs)) == 3
    listed = await kube.list(PODS)
    assert listed["metadata"]["resourceVersion"] == str(rvs[-1])


async def test_list_by_namespace_and_cluster_scope() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("b", "ns1"))
    await kube.create(PODS, pod("a", "ns1"))
    await kube.create(PODS, pod("a", "ns2"))
    await kube.create(NODES, {"metadata": {"name": "n1", "namespace": "ignored"}})

    everything = await kube.list(PODS)
    assert everything["kind"] == "PodList"
    assert everything["apiVersion"] == "v1"
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in everything["items"]] == [
        ("ns1", "a"),
        ("ns1", "b"),
        ("ns2", "a"),
    ]
    assert [p["metadata"]["name"] for p in (await kube.list(PODS, "ns2"))["items"]] == ["a"]
    nodes = await kube.list(NODES, "whatever")
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["n1"]
    assert "namespace" not in nodes["items"][0]["metadata"]
    assert await kube.get(NODES, "n1", "whatever")  # the namespace means nothing here
    assert len(kube.objects(PODS)) == 3
    assert kube.objects(LEASES) == []


LABELLED = {
    "a": {"app": "web", "tier": "front"},
    "b": {"app": "web", "tier": "back"},
    "c": {"app": "db"},
    "d": {},
}


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app in (web, db)", ["a", "b", "c"]),
        ("tier notin (front)", ["b", "c", "d"]),
        ("app=web,tier!=front", ["b"]),
        ("app in (db,web),!tier", ["c"]),
        ("", ["a", "b", "c", "d"]),
    ],
)
async def test_label_selectors(selector: str, names: list[str]) -> None:
    kube = MemoryKube()
    for name, labels in LABELLED.items():
        await kube.create(PODS, pod(name, labels=labels))
    items = (await kube.list(PODS, "ns", label_selector=selector))["items"]
    assert [p["metadata"]["name"] for p in items] == names


async def test_field_selectors_and_bad_selectors() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("a", "ns1", nodeName="n1"))
    await kube.create(PODS, pod("b", "ns1"))
    await kube.create(PODS, pod("a", "ns2", nodeName="n2"))

    async def names(selector: str) -> list[str]:
        items = (await kube.list(PODS, field_selector=selector))["items"]
        return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in items]

    assert await names("metadata.name=a") == ["ns1/a", "ns2/a"]
    assert await names("metadata.namespace=ns1") == ["ns1/a", "ns1/b"]
    assert await names("spec.nodeName=") == ["ns1/b"]
    assert await names("spec.nodeName!=,metadata.namespace==ns2") == ["ns2/a"]
    for bad in ("app in (a", "=x", "a b"):
        with pytest.raises(ApiError) as info:
            await kube.list(PODS, label_selector=bad)
        assert info.value.status == 400


# --- updates -----------------------------------------------------------------------------


async def test_replace_checks_the_resource_version_and_keeps_the_status() -> None:
    kube = MemoryKube()
    made = await kube.create(PODS, {**pod("a"), "status": {"phase": "Pending"}})
    edit = {**made, "spec": {**made["spec"], "nodeName": "n1"}, "status": {"phase": "Running"}}
    replaced = await kube.replace(PODS, edit)
    assert replaced["spec"]["nodeName"] == "n1"
    assert replaced["status"] == {"phase": "Pending"}  # only the status subresource sets it
    assert replaced["metadata"]["generation"] == 2
    assert replaced["metadata"]["uid"] == made["metadata"]["uid"]
    assert int(replaced["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])

    with pytest.raises(ApiError) as info:
        await kube.replace(PODS, edit)  # still carries the first resourceVersion
    assert info.value.conflict
    assert info.value.reason == "Conflict"
    assert not info.value.already_exists

    # Without a resourceVersion the update is unconditional.
    del edit["metadata"]["resourceVersion"]
    edit["metadata"]["labels"] = {"x": "1"}
    relabelled = await kube.replace(PODS, edit)
    assert relabelled["metadata"]["labels"] == {"x": "1"}
    assert relabelled["metadata"]["generation"] == 2  # metadata is no spec change

    with pytest.raises(ApiError) as info:
        await kube.replace(PODS, pod("missing"))
    assert info.value.not_found


async def test_replace_status_changes_only_the_status_and_no_ops_write_nothing() -> None:
    kube = MemoryKube()
    made = await kube.create(PODS, pod("a"))
    edit = {**made, "spec": {"nodeName": "sneaky"}, "status": {"phase": "Running"}}
    written = await kube.replace_status(PODS, edit)
    assert written["status"] == {"phase": "Running"}
    assert written["spec"] == made["spec"]
    assert written["metadata"]["generation"] == 1

    with pytest.raises(ApiError) as info:
        await kube.replace_status(PODS, edit)  # stale resourceVersion
    assert info.value.conflict

    again = await kube.replace_status(PODS, written)
    assert again["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]


async def test_apply_creates_then_replaces() -> None:
    kube = MemoryKube()
    first = await kube.apply(CONFIGMAPS, cm("a", k="1"))
    second = await kube.apply(CONFIGMAPS, cm("a", k="2"))
    assert second["data"] == {"k": "2"}
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert kube.calls["create"] == 1
    assert kube.calls["replace"] == 1
    assert kube.calls["get"] == 2


async def test_merge_patch_semantics() -> None:
    kube = MemoryKube()
    await kube.create(
        CONFIGMAPS,
        {
            "metadata": {"name": "a", "namespace": "ns", "labels": {"keep": "1", "drop": "1"}},
            "data": {"x": "1", "y": "2"},
            "list": [1, 2, 3],
        },
    )
    patched = await kube.patch(
        CONFIGMAPS,
        "a",
        {
            "metadata": {"labels": {"drop": None, "new": "1"}},
            "data": {"y": None, "z": "3"},
            "list": [9],
        },
        "ns",
    )
    assert patched["metadata"]["labels"] == {"keep": "1", "new": "1"}
    assert patched["data"] == {"x": "1", "z": "3"}
    assert patched["list"] == [9]  # lists are replaced whole

    # A resourceVersion in the patch is a precondition.
    rv = patched["metadata"]["resourceVersion"]
    await kube.patch(
        CONFIGMAPS, "a", {"metadata": {"resourceVersion": rv}, "data": {"x": "2"}}, "ns"
    )
    with pytest.raises(ApiError) as info:
        await kube.patch(
            CONFIGMAPS, "a", {"metadata": {"resourceVersion": rv}, "data": {"x": "3"}}, "ns"
        )
    assert info.value.conflict
    assert (await kube.get(CONFIGMAPS, "a", "ns"))["data"]["x"] == "2"

    # Strategic merge patches are merge patches, without their directives.
    smp = {"data": {"w": "4"}, "$setElementOrder/list": [{"a": 1}]}
    got = await kube.patch(CONFIGMAPS, "a", smp, "ns", content_type=STRATEGIC_MERGE_PATCH)
    assert got["data"] == {"x": "2", "z": "3", "w": "4"}
    assert not any(k.startswith("$") for k in got)

    with pytest.raises(ApiError) as info:
        await kube.patch(CONFIGMAPS, "missing", {"data": {}}, "ns")
    assert info.value.not_found
    with pytest.raises(ApiError) as info:
        await kube.patch(CONFIGMAPS, "a", {"metadata": {"name": "b"}}, "ns")
    assert info.value.status == 422


async def test_json_patch() -> None:
    kube = MemoryKube()
    await kube.create(CONFIGMAPS, {**cm("a", x="1"), "list": [1, 2]})
    ops = [
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "replace", "path": "/data/x", "value": "2"},
        {"op": "add", "path": "/data/a~1b", "value": "slash"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "add", "path": "/list/0", "value": 0},
        {"op": "remove", "path": "/list/1"},
        {"op": "copy", "from": "/data/x", "path": "/data/copied"},
        {"op": "move", "from": "/data/copied", "path": "/data/moved"},
    ]
    got = await kube.patch(CONFIGMAPS, "a", ops, "ns", content_type=JSON_PATCH)
    assert got["data"] == {"x": "2", "a/b": "slash", "moved": "2"}
    assert got["list"] == [0, 2, 3]

    for bad in (
        [{"op": "test", "path": "/data/x", "value": "1"}],
        [{"op": "remove", "path": "/data/nothing"}],
        [{"op": "replace", "path": "/list/7", "value": 1}],
        {"op": "add"},
    ):
        with pytest.raises(ApiError) as info:
            await kube.patch(CONFIGMAPS, "a", bad, "ns", content_type=JSON_PATCH)
        assert info.value.status == 422
    assert json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]


async def test_status_subresource_is_kept_apart() -> None:
    kube = MemoryKube()
    await kube.create(PODS, {**pod("a"), "status": {"phase": "Pending"}})
    main = await kube.patch(
        PODS, "a", {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}, "ns"
    )
    assert main["spec"]["nodeName"] == "n1"
    assert main["status"] == {"phase": "Pending"}

    status = await kube.patch(
        PODS,
        "a",
        {
            "spec": {"nodeName": "n2"},
            "status": {"phase": "Running"},
            "metadata": {"labels": {"x": "1"}},
        },
        "ns",
        subresource="status",
    )
    assert status["status"] == {"phase": "Running"}
    assert status["spec"]["nodeName"] == "n1"
    assert status["metadata"]["labels"] == {}
    assert status["metadata"]["generation"] == main["metadata"]["generation"]

    stale = {"metadata": {"resourceVersion": main["metadata"]["resourceVersion"]}, "status": {}}
    with pytest.raises(ApiError) as info:
        await kube.patch(PODS, "a", stale, "ns", subresource="status")
    assert info.value.conflict


# --- deletion ----------------------------------------------------------------------------


async def test_delete_returns_the_object_and_none_when_gone() -> None:
    kube = MemoryKube()
    made = await kube.create(CONFIGMAPS, cm("a"))
    with pytest.raises(ApiError) as info:
        await kube.delete(CONFIGMAPS, "a", "ns", uid="not-the-uid")
    assert info.value.conflict
    assert "Precondition failed" in info.value.body["message"]
    assert await kube.get_or_none(CONFIGMAPS, "a", "ns") is not None

    gone = await kube.delete(CONFIGMAPS, "a", "ns", uid=made["metadata"]["uid"])
    assert gone is not None
    assert gone["metadata"]["name"] == "a"
    assert await kube.get_or_none(CONFIGMAPS, "a", "ns") is None
    assert await kube.delete(CONFIGMAPS, "a", "ns") is None


async def test_finalizers_hold_a_deleted_object_until_they_are_removed() -> None:
    kube = MemoryKube()
    made = await kube.create(
        CONFIGMAPS,
        {**cm("a"), "metadata": {"name": "a", "namespace": "ns", "finalizers": ["f/x", "f/y"]}},
    )
    events = kube.watch(CONFIGMAPS, "ns", resource_version=made["metadata"]["resourceVersion"])

    held = await kube.delete(CONFIGMAPS, "a", "ns")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"].endswith("Z")
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0
    assert await kube.get_or_none(CONFIGMAPS, "a", "ns") is not None
    again = await kube.delete(CONFIGMAPS, "a", "ns")
    assert again == held  # a second delete changes nothing

    with pytest.raises(ApiError) as info:
        await kube.patch(CONFIGMAPS, "a", {"metadata": {"finalizers": ["f/x", "f/y", "f/z"]}}, "ns")
    assert info.value.status == 422

    still = await kube.patch(CONFIGMAPS, "a", {"metadata": {"finalizers": ["f/y"]}}, "ns")
    assert still["metadata"]["finalizers"] == ["f/y"]
    last = await kube.patch(CONFIGMAPS, "a", {"metadata": {"finalizers": None}}, "ns")
    assert "finalizers" not in last["metadata"]
    assert await kube.get_or_none(CONFIGMAPS, "a", "ns") is None

    seen = await collect(events, 3)
    assert [e["type"] for e in seen] == ["MODIFIED", "MODIFIED", "DELETED"]
    assert seen[-1]["object"]["metadata"]["resourceVersion"] == last["metadata"]["resourceVersion"]


async def test_pod_graceful_deletion() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("bound", nodeName="n1"))
    await kube.create(PODS, pod("short", nodeName="n1", terminationGracePeriodSeconds=5))
    await kube.create(PODS, pod("unscheduled"))
    await kube.create(PODS, pod("forced", nodeName="n1"))

    terminating = await kube.delete(PODS, "bound", "ns")
    assert terminating is not None
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    assert terminating["metadata"]["generation"] == 2
    assert await kube.get_or_none(PODS, "bound", "ns") is not None
    # Until the kubelet confirms with grace 0, the pod stays.
    assert (await kube.delete(PODS, "bound", "ns"))["metadata"]["deletionGracePeriodSeconds"] == 30
    await kube.delete(PODS, "bound", "ns", grace_period=0)
    assert await kube.get_or_none(PODS, "bound", "ns") is None

    short = await kube.delete(PODS, "short", "ns")
    assert short is not None
    assert short["metadata"]["deletionGracePeriodSeconds"] == 5
    assert await kube.get_or_none(PODS, "unscheduled", "ns") is not None
    await kube.delete(PODS, "unscheduled", "ns")
    assert await kube.get_or_none(PODS, "unscheduled", "ns") is None
    await kube.delete(PODS, "forced", "ns", grace_period=0)
    assert await kube.get_or_none(PODS, "forced", "ns") is None


async def test_binding_through_the_raw_path() -> None:
    kube = MemoryKube()
    made = await kube.create(PODS, pod("a"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "a", "namespace": "ns", "uid": made["metadata"]["uid"]},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }
    path = PODS.path("ns", "a", "binding")
    result = await kube.request("POST", path, body=binding)
    assert result["status"] == "Success"
    bound = await kube.get(PODS, "a", "ns")
    assert bound["spec"]["nodeName"] == "n1"
    with pytest.raises(ApiError) as info:
        await kube.request("POST", path, body=binding)
    assert info.value.conflict

    with pytest.raises(ApiError) as info:
        await kube.request("GET", "/api/v1/namespaces/default")
    assert info.value.not_found
    assert "MemoryKube does not serve" in str(info.value)
    with pytest.raises(NotImplementedError):
        kube.stream("/api/v1/namespaces/ns/pods/a/log")


# --- watches -----------------------------------------------------------------------------


async def test_watch_from_a_resource_version_with_filters() -> None:
    kube = MemoryKube()
    start = await kube.create(PODS, pod("before"))
    await kube.create(PODS, pod("a", labels={"app": "web"}))
    await kube.create(PODS, pod("other", "elsewhere", labels={"app": "web"}))
    await kube.create(CONFIGMAPS, cm("not-a-pod"))
    rv = start["metadata"]["resourceVersion"]

    everything = kube.watch(PODS, resource_version=rv)
    in_ns = kube.watch(PODS, "ns", resource_version=rv, label_selector="app=web")
    from_now = kube.watch(PODS, "ns")

    await kube.patch(PODS, "a", {"metadata": {"labels": {"app": "db"}}}, "ns")  # leaves app=web
    await kube.patch(PODS, "a", {"metadata": {"labels": {"app": "web"}}}, "ns")  # back in
    await kube.delete(PODS, "a", "ns")

    seen = await collect(everything, 5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
        ("ADDED", "a"),
        ("ADDED", "other"),
        ("MODIFIED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    assert [e["type"] for e in await collect(in_ns, 4)] == ["ADDED", "DELETED", "ADDED", "DELETED"]
    assert [e["type"] for e in await collect(from_now, 3)] == ["MODIFIED", "MODIFIED", "DELETED"]
    assert seen[0]["object"]["kind"] == "Pod"
    seen[0]["object"]["metadata"]["name"] = "changed"
    replay = await collect(kube.watch(PODS, resource_version=rv), 1)
    assert replay[0]["object"]["metadata"]["name"] == "a"  # events are copies


async def test_watch_ends_after_its_timeout_with_a_bookmark() -> None:
    kube = MemoryKube()
    await kube.create(CONFIGMAPS, cm("a"))
    events = [e async for e in kube.watch(PODS, timeout_seconds=0.05)]
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert events[0]["object"]["metadata"]["resourceVersion"] == kube.resource_version


async def test_watch_from_zero_and_bookmarks_on_demand() -> None:
    kube = MemoryKube()
    await kube.create(CONFIGMAPS, cm("a"))
    await kube.create(CONFIGMAPS, cm("b"))
    events = kube.watch(CONFIGMAPS, resource_version="0")
    await kube.create(NODES, {"metadata": {"name": "n"}})
    kube.bookmark()
    seen = await collect(events, 3)
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in seen] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("BOOKMARK", None),
    ]
    assert seen[-1]["object"]["metadata"]["resourceVersion"] == kube.resource_version


async def test_watch_from_a_compacted_version_is_gone() -> None:
    kube = MemoryKube(history=3)
    first = await kube.create(CONFIGMAPS, cm("a"))
    rv = first["metadata"]["resourceVersion"]
    for i in range(3):
        await kube.patch(CONFIGMAPS, "a", {"data": {"i": str(i)}}, "ns")
    # The history holds the three events after RV: a watch can still resume from it.
    assert len(await collect(kube.watch(CONFIGMAPS, resource_version=rv), 3)) == 3
    await kube.patch(CONFIGMAPS, "a", {"data": {"i": "3"}}, "ns")
    # Now the first event after RV fell out of the history.
    with pytest.raises(ApiError) as info:
        await collect(kube.watch(CONFIGMAPS, resource_version=rv), 1)
    assert info.value.gone

    recent = kube.resource_version
    older = str(int(recent) - 1)
    assert [
        e["type"] for e in await collect(kube.watch(CONFIGMAPS, resource_version=older), 1)
    ] == ["MODIFIED"]
    kube.compact()
    with pytest.raises(ApiError) as info:
        await collect(kube.watch(CONFIGMAPS, resource_version=older), 1)
    assert info.value.gone
    assert info.value.body["code"] == 410
    # The current version is still a fine place to resume from.
    live = kube.watch(CONFIGMAPS, resource_version=recent)
    await kube.delete(CONFIGMAPS, "a", "ns")
    assert [e["type"] for e in await collect(live, 1)] == ["DELETED"]


# --- test helpers ------------------------------------------------------------------------


async def test_fail_next_and_call_counts() -> None:
    kube = MemoryKube()
    await kube.create(CONFIGMAPS, cm("a"))
    kube.fail_next("patch", 409, times=2)
    for _ in range(2):
        with pytest.raises(ApiError) as info:
            await kube.patch(CONFIGMAPS, "a", {"data": {"x": "1"}}, "ns")
        assert info.value.conflict
        assert info.value.reason == "Conflict"
    assert (await kube.patch(CONFIGMAPS, "a", {"data": {"x": "1"}}, "ns"))["data"] == {"x": "1"}
    assert kube.calls["patch"] == 3

    kube.fail_next("create", 409, reason="AlreadyExists")
    with pytest.raises(ApiError) as info:
        await kube.create(CONFIGMAPS, cm("b"))
    assert info.value.already_exists
    assert await kube.get_or_none(CONFIGMAPS, "b", "ns") is None

    kube.fail_next("delete", 404)
    assert await kube.delete(CONFIGMAPS, "a", "ns") is None
    assert await kube.get_or_none(CONFIGMAPS, "a", "ns") is not None  # nothing happened

    kube.fail_next("list", 500)
    with pytest.raises(ApiError) as info:
        await kube.list(CONFIGMAPS)
    assert info.value.status == 500
    assert len((await kube.list(CONFIGMAPS))["items"]) == 1
    with pytest.raises(ValueError, match="cannot fail"):
        kube.fail_next("frobnicate", 500)


# --- the real informer -------------------------------------------------------------------


async def test_the_informer_lists_first_from_the_watch_cache_and_relists_from_the_store() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("a"))
    asked: list[str] = []
    listing = kube.list

    async def list_(*args: Any, resource_version: str = "", **kwargs: Any) -> Obj:
        asked.append(resource_version)
        return await listing(*args, resource_version=resource_version, **kwargs)

    kube.list = list_  # type: ignore[method-assign]
    informer = Informer(kube, PODS, namespace="ns")
    informer.start()
    try:
        await asyncio.wait_for(informer.synced.wait(), 2)
        assert asked == ["0"]
        await kube.create(CONFIGMAPS, cm("elsewhere"))
        kube.compact()
        kube.drop_watches()
        await eventually(lambda: informer.relists == 2, "a relist after 410")
        assert asked == ["0", ""]
    finally:
        await informer.stop()


async def test_the_informer_lists_watches_and_relists_after_gone() -> None:
    kube = MemoryKube()
    await kube.create(PODS, pod("a"))
    seen: list[tuple[str, str]] = []
    informer = Informer(kube, PODS, namespace="ns")
    informer.add_handler(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])))
    informer.start()
    try:
        await asyncio.wait_for(informer.synced.wait(), 2)
        assert informer.relists == 1
        assert seen == [("ADDED", "a")]

        await kube.create(PODS, pod("b"))
        await kube.patch(PODS, "a", {"metadata": {"labels": {"x": "1"}}}, "ns")
        await kube.delete(PODS, "b", "ns")
        await eventually(lambda: len(seen) == 4, "the three changes reported")
        assert seen[1:] == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        assert informer.get("ns", "a")["metadata"]["labels"] == {"x": "1"}

        # The informer's version falls out of the history while it is disconnected: it
        # gets 410 on reconnecting, relists, and still reports what it missed.
        await kube.create(CONFIGMAPS, cm("elsewhere"))
        kube.compact()
        kube.drop_watches()
        await kube.create(PODS, pod("c"))
        await eventually(lambda: informer.relists == 2, "a relist after 410")
        await eventually(lambda: ("ADDED", "c") in seen, "the missed pod reported")
        assert informer.get("ns", "c") is not None

        # And it watches again afterwards.
        await kube.delete(PODS, "c", "ns")
        await eventually(lambda: seen[-1] == ("DELETED", "c"), "the deletion reported")
        assert informer.get("ns", "c") is None
        assert informer.relists == 2
    finally:
        await informer.stop()
