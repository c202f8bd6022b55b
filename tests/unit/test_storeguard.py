"""The tenant's writes refused while the store's disk is nearly full (runner.storeguard)."""

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from subkube.kube.memory import MemoryKube
from subkube.runner import storeguard
from subkube.runner.storeguard import BINDINGS, NAME, POLICIES, StoreGuard

Usage = namedtuple("Usage", "total used free")
MIB = 1024 * 1024


def test_the_floor_is_a_tenth_of_a_small_disk_and_256_mib_of_a_large_one() -> None:
    assert storeguard.floor(64 * MIB) == int(6.4 * MIB)
    assert storeguard.floor(500 * 1024 * MIB) == 256 * MIB


async def test_writes_are_refused_below_the_floor_and_taken_again_above(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    free = {"now": 2 * MIB}
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _path: Usage(64 * MIB, 64 * MIB - free["now"], free["now"])
    )
    virtual = MemoryKube()
    guard = StoreGuard(virtual, tmp_path)

    await guard.check()
    policy = await virtual.get(POLICIES, NAME)
    rule = policy["spec"]["matchConstraints"]["resourceRules"][0]
    assert rule["operations"] == ["CREATE", "UPDATE"], "deletes go through, to make room"
    message = policy["spec"]["validations"][0]["message"]
    assert message.startswith("the vcluster's store is out of disk space (2 MiB free under")
    assert (await virtual.get(BINDINGS, NAME))["spec"]["validationActions"] == ["Deny"]

    writes = sum(virtual.calls.values())
    await guard.check()
    assert sum(virtual.calls.values()) == writes, "nothing written while nothing changed"

    free["now"] = 30 * MIB
    await guard.check()
    assert await virtual.get_or_none(POLICIES, NAME) is None
    assert await virtual.get_or_none(BINDINGS, NAME) is None


async def test_a_policy_left_by_an_earlier_run_goes_when_there_is_room(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: Usage(64 * MIB, 0, 64 * MIB))
    virtual = MemoryKube()
    await virtual.create(POLICIES, storeguard.policy("left over"))
    await virtual.create(BINDINGS, storeguard.binding())
    await StoreGuard(virtual, tmp_path).check()
    assert await virtual.get_or_none(POLICIES, NAME) is None
