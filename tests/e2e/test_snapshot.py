"""Snapshots of real stores (kine, etcd) taken while they run, put back by the pending
restore, sent to a real S3 server (versitygw), and taken on a schedule."""

import asyncio
import datetime as dt
import json
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from subkube.config.model import Config
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.ports import free_port
from subkube.controlplane.spec import ControlPlaneSpec, Store
from subkube.errors import SubkubeError
from subkube.snapshot import archive, pending
from subkube.snapshot.capture import fetch, take
from subkube.snapshot.scheduled import ScheduledSnapshots
from subkube.snapshot.urls import S3Settings
from tests.conftest import kubectl, require_binary
from tests.e2e.s3server import S3Server, versitygw
from tests.stepclock import StepClock

pytestmark = pytest.mark.e2e

VC, NS = "snap", "team"
CRD = Path(__file__).parent / "manifests" / "widgets-crd.yaml"
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1", "namespace": "keep"},
    "spec": {"size": 3},
}


def config_for(store: Store) -> Config:
    if store == "kine":
        return Config()
    return Config.model_validate(
        {"controlPlane": {"backingStore": {"etcd": {"embedded": {"enabled": True}}}}}
    )


def seed(kc: Path) -> None:
    """A namespace, a ConfigMap, a Secret, a CRD and one of its objects."""
    kubectl(kc, "create", "namespace", "keep")
    kubectl(kc, "-n", "keep", "create", "configmap", "c", "--from-literal=answer=42")
    kubectl(kc, "-n", "keep", "create", "secret", "generic", "s", "--from-literal=pw=hunter2")
    kubectl(kc, "apply", "-f", str(CRD))
    kubectl(kc, "wait", "--for=condition=Established", "crd/widgets.example.com")
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(WIDGET))


def seeded(kc: Path) -> dict[str, Any]:
    def get(*args: str) -> Any:
        return json.loads(kubectl(kc, "-n", "keep", "get", *args, "-o", "json").stdout)

    return {
        "configmap": get("configmap", "c")["data"],
        "secret": get("secret", "s")["data"],
        "widget": get("widget", "w1")["spec"],
    }


SEEDED = {"configmap": {"answer": "42"}, "secret": {"pw": "aHVudGVyMg=="}, "widget": {"size": 3}}


def has_configmap(kc: Path, name: str) -> bool:
    res = kubectl(kc, "-n", "keep", "get", "configmap", name, check=False)
    return res.returncode == 0


def etcd_members(port: int) -> list[dict[str, Any]]:
    listed = subprocess.run(
        [
            str(require_binary("etcdctl")),
            f"--endpoints=http://127.0.0.1:{port}",
            "member",
            "list",
            "-w",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(listed.stdout)["members"]


async def restore_into(spec: ControlPlaneSpec, archive_path: Path, config: Config) -> None:
    """What a restore does: stage the archive, then the runner's start applies it."""
    pending.stage(archive_path, spec.data_dir, config)
    assert await pending.apply(spec) is not None


@pytest.mark.parametrize("store", ["kine", "etcd"])
async def test_store_capture_and_restore(tmp_path: Path, store: Store) -> None:
    config = config_for(store)
    spec = ControlPlaneSpec(name=f"{VC}-{store}", data_dir=tmp_path / "a", store=store)
    snaps = tmp_path / "snaps"
    async with ControlPlane(spec) as cp:
        seed(cp.kubeconfig)
        running = await take(
            spec.data_dir, config, vcluster=VC, namespace=NS, to=f"file://{snaps}/"
        )
        kubectl(cp.kubeconfig, "-n", "keep", "create", "configmap", "later")
    stopped = await take(
        spec.data_dir, config, vcluster=VC, namespace=NS, to=f"file://{snaps}/stopped.tar.gz"
    )
    running_meta = archive.inspect(Path(running.path)).metadata
    assert (running_meta.store, running_meta.capture) == (
        store,
        "snapshot" if store == "etcd" else "copy",
    )
    assert archive.inspect(Path(stopped.path)).metadata.capture == "copy"

    # Into the same vcluster: back to what it was when the snapshot was taken.
    await restore_into(spec, await fetch(str(running), tmp_path), config)
    async with ControlPlane(spec) as cp:
        assert seeded(cp.kubeconfig) == SEEDED
        assert not has_configmap(cp.kubeconfig, "later")

    # Into a new vcluster of another name, from the files of the stopped store.
    other = ControlPlaneSpec(name="other", data_dir=tmp_path / "b", store=store)
    await restore_into(other, Path(stopped.path), config)
    async with ControlPlane(other) as cp:
        assert seeded(cp.kubeconfig) == SEEDED
        assert has_configmap(cp.kubeconfig, "later")
        if store == "etcd":
            members = etcd_members(cp.ports["store"])
            (member,) = members
            assert member["name"] == "other"
            assert member["peerURLs"] == [f"http://127.0.0.1:{cp.ports['store_peer']}"]


@pytest.fixture(scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ControlPlane]:
    """One seeded etcd control plane for the S3 and schedule tests."""
    spec = ControlPlaneSpec(
        name=VC, data_dir=tmp_path_factory.mktemp("running") / "cp", store="etcd"
    )
    async with ControlPlane(spec) as cp:
        seed(cp.kubeconfig)
        yield cp


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with versitygw(tmp_path_factory.mktemp("s3")) as server:
        server.bucket("snapshots")
        yield server


@pytest.fixture(autouse=True)
def no_aws_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: none of this machine's AWS variables, files or instance role."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


ETCD = config_for("etcd")


def bucket_keys(server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.settings.access_key,
        aws_secret_access_key=server.settings.secret_key,
        region_name="us-east-1",
    )
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def test_s3_round_trip(running: ControlPlane, s3: S3Server, tmp_path: Path) -> None:
    when = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    loc = await take(
        running.spec.data_dir,
        ETCD,
        vcluster=VC,
        namespace=NS,
        to="s3://snapshots/team/",
        s3=s3.settings,
        now=when,
    )
    assert str(loc) == "s3://snapshots/team/snap.team.20260203T040506Z.tar.gz"
    assert bucket_keys(s3, "snapshots", "team/") == ["team/snap.team.20260203T040506Z.tar.gz"]
    got = await fetch(str(loc), tmp_path, s3.settings)
    # The posix backend keeps each object as a file: what came back is what went in.
    assert got.read_bytes() == (s3.data_dir / "snapshots" / loc.path).read_bytes()
    meta = archive.inspect(got).metadata
    assert (meta.vcluster, meta.namespace, meta.store, meta.capture) == (
        VC,
        NS,
        "etcd",
        "snapshot",
    )


async def test_s3_settings_come_from_the_aws_cli_environment(
    running: ControlPlane, s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    # versitygw serves us-east-1 only; AWS_REGION wins over AWS_DEFAULT_REGION.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    loc = await take(
        running.spec.data_dir, ETCD, vcluster=VC, namespace=NS, to="s3://snapshots/env.tar.gz"
    )
    assert (await fetch(str(loc), tmp_path)).stat().st_size > 0


async def _error_of(action: Awaitable[Any]) -> str:
    with pytest.raises(SubkubeError) as info:
        await action
    message = str(info.value)
    assert "\n" not in message, "one line"
    return message


def _take(running: ControlPlane, url: str, settings: S3Settings) -> Awaitable[Any]:
    return take(running.spec.data_dir, ETCD, vcluster=VC, namespace=NS, to=url, s3=settings)


async def test_s3_failures_are_one_clear_line(
    running: ControlPlane, s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    good = s3.settings
    assert await _error_of(_take(running, "s3://nope/x.tar.gz", good)) == (
        f"bucket nope does not exist at {s3.endpoint}"
    )
    assert await _error_of(fetch("s3://nope/x.tar.gz", tmp_path, good)) == (
        f"bucket nope does not exist at {s3.endpoint}"
    )
    assert await _error_of(fetch("s3://snapshots/none.tar.gz", tmp_path, good)) == (
        "no snapshot at s3://snapshots/none.tar.gz"
    )
    wrong = S3Settings(endpoint=s3.endpoint, access_key=good.access_key, secret_key="wrong")
    assert "refused to upload to s3://snapshots/x.tar.gz (SignatureDoesNotMatch" in (
        await _error_of(_take(running, "s3://snapshots/x.tar.gz", wrong))
    )
    nobody = S3Settings(endpoint=f"http://127.0.0.1:{free_port()}", access_key="a", secret_key="b")
    assert (await _error_of(_take(running, "s3://snapshots/x.tar.gz", nobody))).startswith(
        f"cannot reach the S3 endpoint {nobody.endpoint}"
    )
    assert (await _error_of(_take(running, "s3://snapshots/x.tar.gz", S3Settings()))).startswith(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    monkeypatch.setenv("AWS_PROFILE", "missing")
    assert "The config profile (missing) could not be found" in (
        await _error_of(_take(running, "s3://snapshots/x.tar.gz", S3Settings()))
    )
    assert not list(running.spec.data_dir.glob(".snapshot-*")), "no scratch copy is left"


async def test_scheduled_snapshots_fire_at_their_minutes_and_keep_the_newest(
    running: ControlPlane, s3: S3Server
) -> None:
    config = ETCD.model_copy(
        update={
            "snapshots": ETCD.snapshots.model_copy(
                update={
                    # 09:30 and 21:30 in Berlin: 07:30 and 19:30 UTC in summer.
                    "schedule": "30 9,21 * * *",
                    "timezone": "Europe/Berlin",
                    "to": "s3://snapshots/scheduled",
                    "keep": 2,
                }
            )
        }
    )
    clock = StepClock(dt.datetime(2026, 7, 1, 6, 0, tzinfo=dt.UTC))
    task = ScheduledSnapshots(
        running.spec.data_dir, config, vcluster=VC, namespace=NS, s3=s3.settings, clock=clock
    )
    task.start()
    try:
        await clock.asleep(1)
        # Not yet: a minute before the first fire time nothing is taken.
        await clock.advance_to(dt.datetime(2026, 7, 1, 7, 29, tzinfo=dt.UTC))
        await asyncio.sleep(0.5)
        assert bucket_keys(s3, "snapshots", "scheduled/") == []
        for nap, fired in enumerate(
            [
                dt.datetime(2026, 7, 1, 7, 30, 5, tzinfo=dt.UTC),
                dt.datetime(2026, 7, 1, 19, 30, 5, tzinfo=dt.UTC),
                dt.datetime(2026, 7, 2, 7, 30, 5, tzinfo=dt.UTC),
            ],
            start=1,
        ):
            await clock.advance_to(fired)
            await clock.asleep(nap + 1)
    finally:
        await task.stop()
    assert bucket_keys(s3, "snapshots", "scheduled/") == [
        "scheduled/snap.team.20260701T193000Z.tar.gz",
        "scheduled/snap.team.20260702T073000Z.tar.gz",
    ]
