"""The ServiceAccounts kind on an in-memory API: one host copy per virtual ServiceAccount
that keeps its cloud-identity annotations, and pods that run as that copy and wait for it
(the host refuses a pod whose ServiceAccount is missing) instead of failing and retrying."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.memory import MemoryKube
from subkube.kube.resource import PODS, SERVICEACCOUNTS
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Engine
from subkube.syncer.resources.pods.kind import Pods
from subkube.syncer.resources.serviceaccounts.kind import ServiceAccounts

VC, HOST_NS, NS = "vc1", "team-a", "demo"
ROLE = "eks.amazonaws.com/role-arn"


@dataclass
class Rig:
    ctx: SyncContext
    virtual: MemoryKube
    host: MemoryKube
    accounts: Engine
    pods: Engine

    async def host_copy(self, res: Any, name: str) -> Obj | None:
        return await self.host.get_or_none(res, names.host_name(name, NS, VC), HOST_NS)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    virtual, host = MemoryKube(), MemoryKube()
    ctx = SyncContext(
        vcluster=VC,
        host_namespace=HOST_NS,
        owner_service={
            "metadata": {"name": VC, "namespace": HOST_NS, "uid": "owner-uid"},
            "spec": {"clusterIP": "10.96.0.10"},
        },
        virtual=virtual,
        host=host,
        dns_service_ip="10.96.0.53",
        workload_service_account="vc-workload-vc1",
        sync=Sync.model_validate({"toHost": {"serviceAccounts": {"enabled": True}}}),
    )
    r = Rig(ctx, virtual, host, Engine(ServiceAccounts(ctx)), Engine(Pods(ctx)))
    yield r
    for engine in (r.pods, r.accounts):
        await engine.stop()
    await ctx.cache.stop()


async def eventually(check: Callable[[], Any], what: str) -> Any:
    for _ in range(400):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.005)
    pytest.fail(f"never: {what}")


def account(name: str, **annotations: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "imagePullSecrets": [{"name": "regcred"}],
    }


def pod(name: str, service_account: str | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if service_account:
        spec["serviceAccountName"] = service_account
    return {"metadata": {"name": name, "namespace": NS}, "spec": spec}


async def test_the_host_copy_keeps_the_annotations_and_follows_them(rig: Rig) -> None:
    await rig.accounts.start()
    arn = "arn:aws:iam::111122223333:role/builder"
    await rig.virtual.create(SERVICEACCOUNTS, account("builder", **{ROLE: arn, "team": "a"}))
    copy = await eventually(lambda: rig.host_copy(SERVICEACCOUNTS, "builder"), "the host copy")
    assert copy["metadata"]["annotations"][ROLE] == arn
    assert copy["automountServiceAccountToken"] is False, "no host token, ever"
    assert copy["imagePullSecrets"] == [{"name": names.host_name("regcred", NS, VC)}]

    # Someone on the host adds an annotation of their own: it survives our updates.
    host_name = copy["metadata"]["name"]
    await rig.host.patch(
        SERVICEACCOUNTS, host_name, {"metadata": {"annotations": {"host/audit": "x"}}}, HOST_NS
    )
    other = "arn:aws:iam::111122223333:role/other"
    await rig.virtual.patch(
        SERVICEACCOUNTS, "builder", {"metadata": {"annotations": {ROLE: other, "team": None}}}, NS
    )

    async def followed() -> Obj | None:
        c = await rig.host_copy(SERVICEACCOUNTS, "builder")
        return c if c and c["metadata"]["annotations"].get(ROLE) == other else None

    annotations = (await eventually(followed, "the new role on the host"))["metadata"][
        "annotations"
    ]
    assert "team" not in annotations, "a removal inside is a removal on the host"
    assert annotations["host/audit"] == "x"

    await rig.virtual.delete(SERVICEACCOUNTS, "builder", NS)

    async def gone() -> bool:
        return await rig.host_copy(SERVICEACCOUNTS, "builder") is None

    await eventually(gone, "the host copy deleted")


async def test_a_pod_waits_for_its_service_account_copy_then_runs_as_it(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.virtual.create(SERVICEACCOUNTS, account("builder"))
    await rig.virtual.create(SERVICEACCOUNTS, account("default"))
    # Pods first, ServiceAccounts not running yet: as when a namespace and its first pod
    # arrive at once and the pod's reconcile wins the race.
    await rig.pods.start()
    await rig.virtual.create(PODS, pod("job", "builder"))
    await rig.virtual.create(PODS, pod("plain"))
    caplog.set_level(logging.WARNING)
    assert await rig.pods.queue.wait_idle()
    assert await rig.host_copy(PODS, "job") is None, "the host would refuse it"
    assert rig.pods.queue.failures((NS, "job")) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "no failure to warn of"

    await rig.accounts.start()
    hpod = await eventually(lambda: rig.host_copy(PODS, "job"), "the pod once its SA is there")
    assert hpod["spec"]["serviceAccountName"] == names.host_name("builder", NS, VC)
    assert hpod["spec"]["automountServiceAccountToken"] is False, "tokens come from inside"
    plain = await eventually(lambda: rig.host_copy(PODS, "plain"), "the pod of `default`")
    assert plain["spec"]["serviceAccountName"] == names.host_name("default", NS, VC)
