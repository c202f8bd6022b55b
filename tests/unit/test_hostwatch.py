"""When a runner has lost its host, and what it says about it (runner.hostwatch)."""

import asyncio

from subkube.kube.memory import MemoryKube
from subkube.kube.resource import NAMESPACES, SERVICES
from subkube.lifecycle import hostops
from subkube.runner import hostwatch


async def placed(namespace: str = "team", labels: dict[str, str] | None = None) -> MemoryKube:
    host = MemoryKube()
    await host.create(NAMESPACES, {"metadata": {"name": namespace, "labels": labels or {}}})
    await host.create(
        SERVICES, {"metadata": {"name": "vc", "namespace": namespace}, "spec": {"ports": []}}
    )
    return host


async def test_a_vcluster_in_place_has_not_lost_its_host() -> None:
    assert await hostwatch.gone_why(await placed(), "team", "vc") == ""


async def test_a_deleted_or_terminating_namespace_is_named() -> None:
    host = await placed()
    await host.patch(NAMESPACES, "team", {"metadata": {"finalizers": ["test/hold"]}})
    await host.delete(NAMESPACES, "team")
    assert await hostwatch.gone_why(host, "team", "vc") == "host namespace team is being deleted"
    assert await hostwatch.gone_why(MemoryKube(), "team", "vc") == "host namespace team was deleted"


async def test_without_rights_on_namespaces_its_service_tells() -> None:
    host = await placed()
    await host.delete(SERVICES, "vc", "team")
    host.fail_next("get", 403)
    forbidden = hostwatch.Forbidden()
    why = await hostwatch.gone_why(host, "team", "vc", forbidden)
    assert why == "its host Service team/vc was deleted"
    # Refused once, the namespace is not asked for again.
    asked = host.calls["get"]
    await hostwatch.gone_why(host, "team", "vc", forbidden)
    assert host.calls["get"] == asked + 1


async def test_an_api_that_stops_answering_ends_it_after_the_grace_only() -> None:
    host = await placed()
    host.fail_next("get", 503, times=1000)
    why = await hostwatch.lost(host, "team", "vc", grace=0.05, every=0.01)
    assert why.startswith("host API unreachable for 0s (grace 0s): ")
    assert "503" in why


async def test_an_api_back_within_the_grace_resets_it() -> None:
    host = await placed()
    host.fail_next("get", 503, times=3)
    await host.delete(SERVICES, "vc", "team")
    # Three failures at 10 ms apart stay within a 1 s grace; then the Service's absence shows.
    why = await hostwatch.lost(host, "team", "vc", grace=1.0, every=0.01)
    assert why == "its host Service team/vc was deleted"


async def test_an_existing_namespace_more_permissive_than_the_level_is_warned_about() -> None:
    host = await placed(labels={"pod-security.kubernetes.io/enforce": "privileged"})
    warning = await hostops.prepare_namespace(host, "team", create=False, level="baseline")
    assert warning is not None
    assert "enforces Pod Security privileged" in warning
    assert "pod-security.kubernetes.io/enforce=baseline" in warning
    unlabelled = await placed("open")
    warning = await hostops.prepare_namespace(unlabelled, "open", create=False, level="restricted")
    assert warning is not None
    assert "privileged (no label)" in warning
    strict = await placed("strict", {"pod-security.kubernetes.io/enforce": "restricted"})
    assert await hostops.prepare_namespace(strict, "strict", create=False, level="baseline") is None


async def test_a_namespace_being_deleted_is_waited_for_and_made_anew() -> None:
    host = await placed(labels={"pod-security.kubernetes.io/enforce": "privileged"})
    await host.patch(NAMESPACES, "team", {"metadata": {"finalizers": ["test/hold"]}})
    await host.delete(NAMESPACES, "team")

    async def finalize() -> None:
        await asyncio.sleep(0.6)
        await host.patch(NAMESPACES, "team", {"metadata": {"finalizers": None}})

    finalizing = asyncio.ensure_future(finalize())
    assert await hostops.prepare_namespace(host, "team", create=True, level="baseline") is None
    await finalizing
    labels = (await host.get(NAMESPACES, "team"))["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline", "made anew, at its level"
