"""How long `delete` waits for the host's garbage collector (hostops.wait_collected): as
long as it makes progress, then a one-line error with what is left."""

import asyncio
from pathlib import Path

import pytest

from subkube.errors import SubkubeError
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import PODS
from subkube.lifecycle import hostops
from subkube.runner.state import VClusterState
from subkube.syncer import names

NS = "team"


async def synced(pods: int) -> MemoryKube:
    host = MemoryKube()
    for i in range(pods):
        vpod = {"metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}}
        meta = names.host_metadata(vpod, kind="Pod", vcluster="vc", host_namespace=NS, owner=None)
        await host.create(PODS, {"metadata": meta, "spec": {"containers": []}}, NS)
    return host


async def collect_one_by_one(host: MemoryKube, every: float) -> None:
    for pod in (await host.list(PODS, NS))["items"]:
        await asyncio.sleep(every)
        await host.delete(PODS, pod["metadata"]["name"], NS)


@pytest.fixture
def state(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> VClusterState:
    monkeypatch.setattr(hostops, "COLLECT_TIMEOUT", 0.2)
    monkeypatch.setattr(hostops, "COLLECT_EVERY", 0.01)
    return VClusterState(name="vc", namespace=NS)


async def test_a_collector_that_keeps_removing_is_waited_for_past_the_timeout(
    state: VClusterState,
) -> None:
    host = await synced(8)
    collector = asyncio.ensure_future(collect_one_by_one(host, 0.1))
    await hostops.wait_collected(host, state)
    await collector
    assert (await host.list(PODS, NS))["items"] == []


async def test_a_stalled_collector_is_named_with_what_is_left(state: VClusterState) -> None:
    host = await synced(3)
    with pytest.raises(SubkubeError) as failed:
        await hostops.wait_collected(host, state)
    assert "3 objects left in team" in str(failed.value)
    assert "controller-manager" in str(failed.value)
