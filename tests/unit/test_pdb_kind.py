"""The PodDisruptionBudgets kind on an in-memory API: a host copy whose selector only
matches this tenant's pods and whose bound is an integer minAvailable computed from the
virtual pods, the host's status back with pod names translated, evictions
granted inside kept until the host counts them, and the virtual controller-manager run
without its own disruption controller."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from subkube.config.model import Config
from subkube.controlplane import controller_manager
from subkube.controlplane.pki import PKI
from subkube.kube.resource import PDBS, PODS
from subkube.kube.rest import ApiError, Obj
from subkube.runner.vcluster import HOST_CONTROLLERS, virtual_controllers
from subkube.syncer import names
from subkube.syncer.resources.poddisruptionbudgets.kind import PodDisruptionBudgets
from tests.unit.rig import HOST_NS, NS, VC, Rig, eventually, rig_fixture

ON = {"toHost": {"podDisruptionBudgets": {"enabled": True}}}

rig = rig_fixture(ON, PodDisruptionBudgets)


async def host_pdb(r: Rig) -> Obj | None:
    """The host copy of the budget the tests make (`pdb()`), or None."""
    return await r.host_copy(PDBS, "web")


async def virtual_pdb(r: Rig) -> Obj:
    """The budget the tests make, as it is inside now."""
    return await r.virtual.get(PDBS, "web", NS)


def pdb(min_available: int = 2) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "web"}}},
    }


def pod(name: str, **meta: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "web"}, **meta},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def timestamp(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def host_controller_says(r: Rig, allowed: int, **disrupted: str) -> None:
    """What the host's disruption controller writes: its counts for its latest generation."""
    hpdb = await eventually(lambda: host_pdb(r), "the host copy")
    status = {
        "observedGeneration": hpdb["metadata"]["generation"],
        "currentHealthy": 2 + allowed,
        "desiredHealthy": 2,
        "expectedPods": 2 + allowed,
        "disruptionsAllowed": allowed,
        "disruptedPods": disrupted,
    }
    await r.host.patch(
        PDBS, hpdb["metadata"]["name"], {"status": status}, HOST_NS, subresource="status"
    )


async def test_the_host_copy_selects_only_this_tenants_pods(rig: Rig) -> None:
    r = rig
    made = await r.virtual.create(PDBS, pdb())
    hpdb = await eventually(lambda: host_pdb(r), "the host copy")
    assert hpdb["spec"]["minAvailable"] == 2
    assert hpdb["spec"]["selector"]["matchLabels"] == {
        "app": "web",
        names.LABEL_MANAGED_BY: VC,
        names.LABEL_NAMESPACE: NS,
    }
    assert hpdb["metadata"]["annotations"][names.ANNOTATION_UID] == made["metadata"]["uid"]
    assert hpdb["metadata"]["ownerReferences"][0]["uid"] == "owner-uid"

    await r.virtual.patch(PDBS, "web", {"spec": {"minAvailable": 1}}, NS)

    async def updated() -> bool:
        h = await host_pdb(r)
        return h is not None and h["spec"]["minAvailable"] == 1

    await eventually(updated, "the new budget on the host")
    await r.virtual.delete(PDBS, "web", NS)

    async def gone() -> bool:
        return await host_pdb(r) is None

    await eventually(gone, "the host copy deleted")


async def host_min_available(r: Rig, n: int) -> bool:
    h = await host_pdb(r)
    return (
        h is not None and h["spec"].get("minAvailable") == n and "maxUnavailable" not in h["spec"]
    )


async def test_max_unavailable_reaches_the_host_as_the_pods_it_leaves(rig: Rig) -> None:
    r = rig
    for name in ("web-1", "web-2", "web-3"):
        await r.virtual.create(PODS, pod(name))
    await r.virtual.create(PODS, pod("held", finalizers=["example.com/hold"]))
    await r.virtual.create(PODS, {**pod("api"), "metadata": {"name": "api", "namespace": NS}})
    budget = pdb()
    budget["spec"] = {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}
    await r.virtual.create(PDBS, budget)
    await eventually(lambda: host_min_available(r, 3), "minAvailable 3 of 4 pods")

    # Each change of what the budget expects reaches the host: a pod that ends,
    await r.virtual.patch(
        PODS, "web-1", {"status": {"phase": "Succeeded"}}, NS, subresource="status"
    )
    await eventually(lambda: host_min_available(r, 2), "a finished pod not expected")
    # one that is being deleted,
    await r.virtual.delete(PODS, "held", NS)
    assert (await r.virtual.get(PODS, "held", NS))["metadata"].get("deletionTimestamp")
    await eventually(lambda: host_min_available(r, 1), "a pod going not expected")
    # one the selector comes to match,
    await r.virtual.patch(PODS, "api", {"metadata": {"labels": {"app": "web"}}}, NS)
    await eventually(lambda: host_min_available(r, 2), "a relabelled pod expected")
    # and one that comes.
    await r.virtual.create(PODS, pod("web-4"))
    await eventually(lambda: host_min_available(r, 3), "a new pod expected")
    # A percentage is of the same pods, rounded up.
    await r.virtual.patch(PDBS, "web", {"spec": {"maxUnavailable": "50%"}}, NS)
    await eventually(lambda: host_min_available(r, 2), "50% of 4 unavailable")
    await r.virtual.patch(
        PDBS, "web", {"spec": {"maxUnavailable": None, "minAvailable": "60%"}}, NS
    )
    await eventually(lambda: host_min_available(r, 3), "60% of 4 available")


async def test_a_pod_change_no_budget_reads_checks_no_budget(rig: Rig) -> None:
    r = rig
    await r.virtual.create(PODS, pod("web-1"))
    await r.virtual.create(PDBS, pdb())
    await eventually(lambda: host_pdb(r), "the host copy")
    kind = r.kind(PodDisruptionBudgets)
    current = await r.virtual.get(PODS, "web-1", NS)
    kind._pod_changed("MODIFIED", current)  # as the watch may not have delivered it yet
    enqueued: list[Any] = []
    kind.enqueue = enqueued.append  # type: ignore[method-assign]
    ready = {**current, "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}}
    kind._pod_changed("MODIFIED", ready)
    assert enqueued == []
    relabelled = {**ready, "metadata": {**ready["metadata"], "labels": {"app": "api"}}}
    kind._pod_changed("MODIFIED", relabelled)
    assert enqueued == [(NS, "web")]
    kind._pod_changed("MODIFIED", relabelled)
    failed = {**relabelled, "status": {"phase": "Failed"}}
    kind._pod_changed("MODIFIED", failed)
    assert enqueued == [(NS, "web")] * 2
    kind._pod_changed("DELETED", failed)
    assert enqueued == [(NS, "web")] * 3


async def test_the_host_status_comes_back_with_virtual_pod_names(rig: Rig) -> None:
    r = rig
    await r.virtual.create(PODS, pod("web-1"))
    await r.virtual.create(PDBS, pdb())
    at = timestamp(dt.datetime.now(dt.UTC))
    await host_controller_says(r, 1, **{names.host_name("web-1", NS, VC): at})

    async def back() -> Obj | None:
        status = (await virtual_pdb(r)).get("status") or {}
        return status if status.get("disruptionsAllowed") == 1 else None

    status = await eventually(back, "the host's status inside")
    assert status["disruptedPods"] == {"web-1": at}
    assert status["observedGeneration"] == (await virtual_pdb(r))["metadata"]["generation"]


async def test_an_eviction_inside_stays_taken_until_its_pod_is_gone(rig: Rig) -> None:
    r = rig
    for name in ("web-1", "web-2", "web-3"):
        await r.virtual.create(PODS, pod(name))
    await r.virtual.create(PDBS, pdb())
    await host_controller_says(r, 1)

    async def allowed(n: int) -> bool:
        return ((await virtual_pdb(r)).get("status") or {}).get("disruptionsAllowed") == n

    await eventually(lambda: allowed(1), "one disruption allowed inside")
    # The eviction API takes it on the virtual status, then deletes the pod inside; the host
    # pod (and so the host's count) follows only later.
    current = await virtual_pdb(r)
    evicted = {
        "disruptionsAllowed": 0,
        "disruptedPods": {"web-1": timestamp(dt.datetime.now(dt.UTC))},
    }
    await r.virtual.patch(
        PDBS,
        "web",
        {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "status": evicted,
        },
        NS,
        subresource="status",
    )
    # Something else changes on the host: the disruption stays taken inside.
    hpdb = await host_pdb(r)
    assert hpdb is not None
    await r.host.patch(
        PDBS,
        hpdb["metadata"]["name"],
        {"status": {"expectedPods": 4}},
        HOST_NS,
        subresource="status",
    )

    async def host_counts() -> bool:
        return (await virtual_pdb(r))["status"].get("expectedPods") == 4

    await eventually(host_counts, "the host's new count inside")
    assert await allowed(0)
    assert (await virtual_pdb(r))["status"]["disruptedPods"].keys() == {"web-1"}

    await r.virtual.delete(PODS, "web-1", NS)
    await eventually(lambda: allowed(1), "the host's count once the pod is gone")


async def test_status_is_written_only_onto_the_status_it_was_computed_from(rig: Rig) -> None:
    r = rig
    await r.virtual.create(PDBS, pdb())
    await host_controller_says(r, 1)
    stale = await virtual_pdb(r)
    await r.virtual.patch(
        PDBS, "web", {"status": {"disruptionsAllowed": 7}}, NS, subresource="status"
    )
    hpdb = await host_pdb(r)
    assert hpdb is not None
    with pytest.raises(ApiError) as failed:
        await r.kind(PodDisruptionBudgets).sync_back(stale, hpdb)
    assert failed.value.conflict


def test_the_virtual_controller_manager_leaves_budgets_to_the_host() -> None:
    on = virtual_controllers(Config.model_validate({"sync": ON}))
    off = virtual_controllers(Config())
    assert on[0] == off[0] == "*"
    assert "-disruption-controller" in on
    assert "-disruption-controller" not in off
    assert {f"-{c}" for c in HOST_CONTROLLERS} <= set(on), "the host's controllers stay off"


def test_the_controller_manager_flag_carries_them() -> None:
    flags = controller_manager.flags(
        pki=PKI(Path("/pki")),
        kubeconfig=Path("/k"),
        port=1,
        cert_dir=Path("/c"),
        service_cidr="10.96.0.0/12",
        cluster_cidr="10.244.0.0/16",
        controllers=virtual_controllers(Config.model_validate({"sync": ON})),
        name="vc1",
    )
    assert "-disruption-controller" in flags["controllers"].split(",")
