"""The REST layer and informer against a real API server."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.kube.client import connect
from subkube.kube.informer import Informer
from subkube.kube.resource import CONFIGMAPS, NAMESPACES
from subkube.kube.rest import ApiError, Kube

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Kube]:
    spec = ControlPlaneSpec(name="kube-client", data_dir=tmp_path_factory.mktemp("cp"))
    async with ControlPlane(spec) as cp, connect(cp.kubeconfig) as api:
        yield Kube(api)


async def wait_for_event(events: list[tuple[str, str]], wanted: tuple[str, str]) -> None:
    for _ in range(200):
        if wanted in events:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"never saw {wanted}; saw {events}")


async def test_crud_and_errors(kube: Kube) -> None:
    await kube.create(NAMESPACES, {"metadata": {"name": "crud"}})
    cm = await kube.create(
        CONFIGMAPS, {"metadata": {"name": "a", "namespace": "crud"}, "data": {"k": "v"}}
    )
    assert cm["metadata"]["uid"]
    with pytest.raises(ApiError) as info:
        await kube.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "crud"}})
    assert info.value.already_exists
    patched = await kube.patch(CONFIGMAPS, "a", {"data": {"k": "w"}}, "crud")
    assert patched["data"] == {"k": "w"}
    assert await kube.get_or_none(CONFIGMAPS, "missing", "crud") is None
    with pytest.raises(ApiError) as info:
        await kube.delete(CONFIGMAPS, "a", "crud", uid="not-the-uid")
    assert info.value.conflict
    assert await kube.delete(CONFIGMAPS, "a", "crud", uid=cm["metadata"]["uid"]) is not None
    assert await kube.delete(CONFIGMAPS, "a", "crud") is None


async def test_list_pages_through_everything(kube: Kube) -> None:
    await kube.create(NAMESPACES, {"metadata": {"name": "paged"}})
    for i in range(12):
        await kube.create(CONFIGMAPS, {"metadata": {"name": f"c{i}", "namespace": "paged"}})
    page = await kube.list(CONFIGMAPS, "paged", limit=5)
    names = {i["metadata"]["name"] for i in page["items"]}
    assert {f"c{i}" for i in range(12)} <= names
    assert page["metadata"]["resourceVersion"]


async def test_informer_sees_changes_and_survives_watch_restarts(kube: Kube) -> None:
    await kube.create(NAMESPACES, {"metadata": {"name": "inf"}})
    await kube.create(CONFIGMAPS, {"metadata": {"name": "before", "namespace": "inf"}})
    inf = Informer(kube, CONFIGMAPS, namespace="inf", watch_timeout=1)
    events: list[tuple[str, str]] = []
    inf.add_handler(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    inf.start()
    try:
        await asyncio.wait_for(inf.synced.wait(), 10)
        # The first list comes from the watch cache, which may be a moment behind the
        # create: then the watch from that list brings it.
        await wait_for_event(events, ("ADDED", "before"))
        await kube.create(CONFIGMAPS, {"metadata": {"name": "x", "namespace": "inf"}})
        await wait_for_event(events, ("ADDED", "x"))
        await asyncio.sleep(1.5)  # the server ends the 1 s watch; the informer re-watches
        await kube.patch(CONFIGMAPS, "x", {"data": {"a": "b"}}, "inf")
        await wait_for_event(events, ("MODIFIED", "x"))
        await kube.delete(CONFIGMAPS, "x", "inf")
        await wait_for_event(events, ("DELETED", "x"))
        assert inf.get("inf", "x") is None
        assert inf.get("inf", "before") is not None
        assert inf.relists == 1
    finally:
        await inf.stop()


async def test_a_relist_reports_what_the_watch_missed(kube: Kube) -> None:
    """What an informer does after 410 Gone: list afresh and diff against its cache."""
    await kube.create(NAMESPACES, {"metadata": {"name": "gone"}})
    inf = Informer(kube, CONFIGMAPS, namespace="gone")
    events: list[tuple[str, str]] = []
    inf.add_handler(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    await inf.relist()
    inf.cache[("gone", "ghost")] = {"metadata": {"name": "ghost", "namespace": "gone"}}
    await kube.create(CONFIGMAPS, {"metadata": {"name": "new", "namespace": "gone"}})
    events.clear()
    await inf.relist()
    assert ("DELETED", "ghost") in events
    assert ("ADDED", "new") in events
    assert not any(name == "kube-root-ca.crt" for _, name in events), "unchanged: no event"
    assert inf.relists == 2
