"""Custom resource kinds on the in-memory API: the definition copied inside from the host (or
a one-line error), tenant objects to the host with the operator's status back, and host
objects shown inside read-only."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from subkube.errors import SubkubeError
from subkube.kube.resource import CRDS, NAMESPACES, Resource
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.resources.customresources import translate
from subkube.syncer.resources.customresources.kind import (
    CustomResourcesFromHost,
    CustomResourcesToHost,
    check_host_definitions,
)
from tests.unit.rig import HOST_NS, VC, Rig, eventually

WIDGETS = Resource("example.com", "v1", "widgets", "Widget")
GADGETS = Resource("example.com", "v1", "gadgets", "Gadget")
PLANS = Resource("example.com", "v1", "plans", "Plan", namespaced=False)
SYNC = {
    "toHost": {"customResources": {"widgets.example.com": {"enabled": True}}},
    "fromHost": {
        "customResources": {
            "gadgets.example.com": {
                "enabled": True,
                "scope": "Namespaced",
                "namespace": "shared",
                "selector": {"labels": {"tier": "shared"}},
            },
            "plans.example.com": {"enabled": True, "scope": "Cluster"},
        }
    },
}


def definition(res: Resource) -> Obj:
    return {
        "metadata": {"name": f"{res.plural}.{res.group}"},
        "spec": {
            "group": res.group,
            "scope": "Namespaced" if res.namespaced else "Cluster",
            "names": {"plural": res.plural, "kind": res.kind},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": False},
                {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}},
            ],
            "conversion": {"strategy": "Webhook"},
        },
    }


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with Rig(SYNC) as r:
        for res in (WIDGETS, GADGETS, PLANS):
            await r.host.create(CRDS, definition(res))
        to_host = r.ctx.sync.toHost.customResources.items()
        from_host = r.ctx.sync.fromHost.customResources.items()
        await r.start(
            *(CustomResourcesToHost(r.ctx, name, entry) for name, entry in to_host),
            *(CustomResourcesFromHost(r.ctx, name, entry) for name, entry in from_host),
        )
        yield r


def obj(name: str, namespace: str | None = None, **fields: Any) -> Obj:
    meta: Obj = {"name": name, **({"namespace": namespace} if namespace else {})}
    labels = fields.pop("labels", None)
    if labels:
        meta["labels"] = labels
    return {"metadata": meta, **fields}


async def test_the_definitions_come_from_the_host(rig: Rig) -> None:
    inside = await rig.virtual.get(CRDS, "widgets.example.com")
    assert inside["spec"]["versions"] == definition(WIDGETS)["spec"]["versions"]
    assert "conversion" not in inside["spec"]
    assert translate.is_copy(inside)
    assert {c["metadata"]["name"] for c in rig.virtual.objects(CRDS)} == {
        "widgets.example.com",
        "gadgets.example.com",
        "plans.example.com",
    }
    assert rig.host.calls["create"] == 3, "nothing is ever installed on the host"
    # Events the host's operator writes about a copy come back inside.
    assert rig.ctx.to_host_kinds["Widget"] == WIDGETS


async def test_a_missing_or_mismatched_definition_is_one_clear_line() -> None:
    bare = Rig(SYNC)  # never started
    virtual, host, ctx = bare.virtual, bare.host, bare.ctx
    with pytest.raises(SubkubeError) as info:
        await check_host_definitions(host, ctx.sync)
    message = str(info.value)
    assert message.startswith("sync.toHost.customResources.widgets.example.com: the host has no")
    assert "install it" in message
    assert "\n" not in message
    kind = CustomResourcesToHost(
        ctx, "widgets.example.com", ctx.sync.toHost.customResources["widgets.example.com"]
    )
    with pytest.raises(SubkubeError, match="the host has no CustomResourceDefinition"):
        await kind.setup()
    assert virtual.objects(CRDS) == []

    await host.create(CRDS, definition(WIDGETS))
    await host.create(CRDS, definition(GADGETS))
    await host.create(CRDS, definition(Resource("example.com", "v1", "plans", "Plan")))
    with pytest.raises(SubkubeError, match=r"plans\.example\.com: .* is Namespaced-scoped; set"):
        await check_host_definitions(host, ctx.sync)


async def test_a_tenant_object_reaches_the_host_and_its_status_comes_back(rig: Rig) -> None:
    made = await rig.virtual.create(
        WIDGETS, obj("w1", "demo", labels={"app": "shop"}, spec={"size": 3})
    )
    copy = await eventually(lambda: rig.host_copy(WIDGETS, "w1"), "the host copy")
    assert copy["spec"] == {"size": 3}
    assert copy["metadata"]["labels"][names.LABEL_MANAGED_BY] == VC
    assert copy["metadata"]["annotations"][names.ANNOTATION_UID] == made["metadata"]["uid"]
    assert copy["metadata"]["annotations"][names.ANNOTATION_KIND] == "Widget"
    assert copy["metadata"]["ownerReferences"][0]["uid"] == "owner-uid"

    # The host's operator sets the status: it comes back inside.
    host_name = copy["metadata"]["name"]
    await rig.host.patch(
        WIDGETS, host_name, {"status": {"phase": "Ready"}}, HOST_NS, subresource="status"
    )

    async def status_inside() -> Any:
        return (await rig.virtual.get(WIDGETS, "w1", "demo")).get("status")

    assert await eventually(status_inside, "the status inside") == {"phase": "Ready"}

    # The tenant changes the spec: the host copy follows, a removed field goes too.
    await rig.virtual.patch(WIDGETS, "w1", {"spec": {"size": None, "color": "red"}}, "demo")

    async def updated() -> bool:
        c = await rig.host_copy(WIDGETS, "w1")
        return c is not None and c["spec"] == {"color": "red"}

    await eventually(updated, "the host copy updated")
    # Someone edits the host copy's spec: the tenant's is put back.
    await rig.host.patch(WIDGETS, host_name, {"spec": {"color": "blue"}}, HOST_NS)
    await eventually(updated, "the host edit undone")

    await rig.virtual.delete(WIDGETS, "w1", "demo")

    async def gone() -> bool:
        return await rig.host_copy(WIDGETS, "w1") is None

    await eventually(gone, "the host copy deleted")


async def test_a_host_object_of_that_name_that_is_not_ours_is_never_touched(rig: Rig) -> None:
    foreign = obj(names.host_name("w2", "demo", VC), HOST_NS, spec={"owner": "ops"})
    await rig.host.create(WIDGETS, foreign)
    await rig.virtual.create(WIDGETS, obj("w2", "demo", spec={"size": 1}))
    await rig.idle()
    await rig.virtual.delete(WIDGETS, "w2", "demo")
    await rig.idle()
    kept = await rig.host_copy(WIDGETS, "w2")
    assert kept is not None
    assert kept["spec"] == {"owner": "ops"}


async def copy_of(rig: Rig, res: Resource, name: str, ns: str | None = None) -> Obj | None:
    found = await rig.virtual.get_or_none(res, name, ns)
    return found if found is not None and translate.is_copy(found) else None


async def test_selected_host_objects_appear_inside_read_only(rig: Rig) -> None:
    await rig.host.create(GADGETS, obj("hidden", HOST_NS, spec={"plan": "x"}))
    await rig.host.create(
        GADGETS, obj("elsewhere", "other-ns", labels={"tier": "shared"}, spec={"plan": "x"})
    )
    # A vcluster's own host copies are never shown, whatever their labels.
    copied_label = {"tier": "shared", names.LABEL_MANAGED_BY: "other-vc"}
    await rig.host.create(GADGETS, obj("a-copy", HOST_NS, labels=copied_label, spec={}))
    await rig.host.create(
        GADGETS,
        obj("g1", HOST_NS, labels={"tier": "shared"}, spec={"plan": "gold"}, status={"ok": True}),
    )
    seen = await eventually(lambda: copy_of(rig, GADGETS, "g1", "shared"), "the copy inside")
    assert seen["spec"] == {"plan": "gold"}
    assert seen["status"] == {"ok": True}
    assert seen["metadata"]["labels"]["tier"] == "shared"
    assert await rig.virtual.get_or_none(NAMESPACES, "shared") is not None, "namespace made"
    await rig.idle()
    assert [o["metadata"]["name"] for o in rig.virtual.objects(GADGETS)] == ["g1"]

    # A tenant's edit, of the content, labels or status, is put back.
    edit = {"metadata": {"labels": {"tier": "mine"}}, "spec": {"plan": "free"}}
    await rig.virtual.patch(GADGETS, "g1", edit, "shared")
    await rig.virtual.patch(
        GADGETS, "g1", {"status": {"ok": False}}, "shared", subresource="status"
    )

    async def restored() -> bool:
        c = await rig.virtual.get(GADGETS, "g1", "shared")
        return (
            c["spec"] == {"plan": "gold"}
            and c["status"] == {"ok": True}
            and c["metadata"]["labels"].get("tier") == "shared"
        )

    await eventually(restored, "the copy put back")
    assert rig.engines[1].kind.synced_count() == 1

    # The host changes: so does the copy, status included.
    await rig.host.patch(GADGETS, "g1", {"spec": {"plan": "platinum"}}, HOST_NS)
    await rig.host.patch(GADGETS, "g1", {"status": {"ok": "later"}}, HOST_NS, subresource="status")

    async def followed() -> bool:
        c = await rig.virtual.get(GADGETS, "g1", "shared")
        return c["spec"] == {"plan": "platinum"} and c["status"] == {"ok": "later"}

    await eventually(followed, "the copy following the host")

    await rig.host.delete(GADGETS, "g1", HOST_NS)

    async def gone() -> bool:
        return await rig.virtual.get_or_none(GADGETS, "g1", "shared") is None

    await eventually(gone, "the copy removed")


async def test_a_tenants_own_object_of_that_name_is_never_touched(rig: Rig) -> None:
    await rig.virtual.create(NAMESPACES, obj("shared"))
    await rig.virtual.create(GADGETS, obj("g2", "shared", spec={"plan": "tenant's"}))
    # And one in another namespace, under a name the host also has.
    await rig.virtual.create(GADGETS, obj("g2", "demo", spec={"plan": "tenant's too"}))
    await rig.host.create(GADGETS, obj("g2", HOST_NS, labels={"tier": "shared"}, spec={}))
    await rig.idle()
    await rig.host.delete(GADGETS, "g2", HOST_NS)
    await rig.idle()
    for ns in ("shared", "demo"):
        mine = await rig.virtual.get(GADGETS, "g2", ns)
        assert mine["spec"]["plan"].startswith("tenant's")
        assert not translate.is_copy(mine)


async def test_cluster_scoped_host_objects_appear_under_their_names(rig: Rig) -> None:
    await rig.host.create(PLANS, obj("gold", spec={"price": 9}, status={"open": True}))
    seen = await eventually(lambda: copy_of(rig, PLANS, "gold"), "the cluster-scoped copy")
    assert seen["spec"] == {"price": 9}
    assert seen["status"] == {"open": True}
    assert "namespace" not in seen["metadata"]
    await rig.host.delete(PLANS, "gold")

    async def gone() -> bool:
        return await rig.virtual.get_or_none(PLANS, "gold") is None

    await eventually(gone, "the copy removed")
