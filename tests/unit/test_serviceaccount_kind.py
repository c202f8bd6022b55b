"""The ServiceAccounts kind on an in-memory API: one host copy per virtual ServiceAccount
that keeps its cloud-identity annotations, and pods that run as that copy and wait for it
(the host refuses a pod whose ServiceAccount is missing) instead of failing and retrying."""

import logging

import pytest

from subkube.kube.resource import PODS, SERVICEACCOUNTS
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.resources.pods.kind import Pods
from subkube.syncer.resources.serviceaccounts.kind import ServiceAccounts
from tests.unit.rig import HOST_NS, NS, VC, Rig, eventually, rig_fixture

ROLE = "eks.amazonaws.com/role-arn"

# Each test starts the kinds it needs, in its own order.
rig = rig_fixture({"toHost": {"serviceAccounts": {"enabled": True}}})


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
    await rig.start(ServiceAccounts)
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
    (pods,) = await rig.start(Pods)
    await rig.virtual.create(PODS, pod("job", "builder"))
    await rig.virtual.create(PODS, pod("plain"))
    caplog.set_level(logging.WARNING)
    await rig.idle()
    assert await rig.host_copy(PODS, "job") is None, "the host would refuse it"
    assert pods.queue.failures((NS, "job")) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "no failure to warn of"

    await rig.start(ServiceAccounts)
    hpod = await eventually(lambda: rig.host_copy(PODS, "job"), "the pod once its SA is there")
    assert hpod["spec"]["serviceAccountName"] == names.host_name("builder", NS, VC)
    assert hpod["spec"]["automountServiceAccountToken"] is False, "tokens come from inside"
    plain = await eventually(lambda: rig.host_copy(PODS, "plain"), "the pod of `default`")
    assert plain["spec"]["serviceAccountName"] == names.host_name("default", NS, VC)
