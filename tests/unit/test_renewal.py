"""The runner's renewal loop and the way a CLI asks it to rotate, on a real PKI in a temp dir
and a stand-in for the control plane's processes."""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import pytest
from cryptography import x509

from subkube.controlplane.pki import PKI, due, ensure_pki
from subkube.errors import SubkubeError
from subkube.runner import renewal
from subkube.runner.renewal import Renewer, ask
from tests.unit.stale import backdate


class Processes:
    """What Renewer uses of a ControlPlane: its PKI, and stopping components for a while."""

    def __init__(self, pki: PKI) -> None:
        self.pki = pki
        self.stopped_sets: list[set[str]] = []

    @contextlib.asynccontextmanager
    async def stopped(self, names: Collection[str]) -> AsyncIterator[None]:
        self.stopped_sets.append(set(names))
        yield


class Runner:
    def __init__(self, root: Path, lifetime: dt.timedelta = dt.timedelta(hours=1)) -> None:
        self.data_dir = root / "data"
        self.processes = Processes(
            ensure_pki(root / "pki", service_cidr="10.96.0.0/12", leaf_lifetime=lifetime)
        )
        self.taken: list[bool] = []
        self.fail_with = ""

    async def after(self, ca: bool) -> None:
        if self.fail_with:
            raise OSError(self.fail_with)
        self.taken.append(ca)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        renewer = Renewer(
            self.processes,  # type: ignore[arg-type]
            dt.timedelta(hours=1),
            self.data_dir,
            self.after,
        )
        task = asyncio.create_task(renewer.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture(autouse=True)
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renewal, "TICK", 0.05)


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


async def test_a_rotation_asked_for_is_done_and_answered(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    pki = runner.processes.pki
    ca_before, serving_before = pki.ca.cert.read_bytes(), _serial(pki.apiserver.cert)
    async with runner.running():
        await ask(runner.data_dir, ca=False, alive=lambda: True, timeout=10)
        assert runner.processes.stopped_sets == [set(renewal.CLIENT_COMPONENTS)]
        assert runner.taken == [False]
        assert _serial(pki.apiserver.cert) != serving_before
        assert pki.ca.cert.read_bytes() == ca_before

        await ask(runner.data_dir, ca=True, alive=lambda: True, timeout=10)
        # The API server reads the CA it trusts kubelets with only when it starts.
        assert runner.processes.stopped_sets[-1] == {*renewal.CLIENT_COMPONENTS, "kube-apiserver"}
        assert runner.taken == [False, True]
        assert pki.ca.cert.read_bytes() != ca_before
    assert not list((runner.data_dir / renewal.ROTATION_DIR).iterdir())


async def test_a_failed_rotation_is_answered_with_its_error_and_the_loop_lives_on(
    tmp_path: Path,
) -> None:
    runner = Runner(tmp_path)
    runner.fail_with = "disk full"
    async with runner.running():
        with pytest.raises(SubkubeError, match="rotating the certificates failed: disk full"):
            await ask(runner.data_dir, ca=False, alive=lambda: True, timeout=10)
        runner.fail_with = ""
        await ask(runner.data_dir, ca=False, alive=lambda: True, timeout=10)
    assert runner.taken == [False]


async def test_due_leaves_are_renewed_unasked(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    pki = runner.processes.pki
    backdate(pki, expired=True)
    async with runner.running():
        for _ in range(200):
            if runner.taken:
                break
            await asyncio.sleep(0.05)
    assert runner.taken == [False]
    assert due(pki, dt.datetime.now(dt.UTC)) == []


async def test_asking_a_runner_that_is_gone_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SubkubeError, match="runner stopped before it rotated"):
        await ask(tmp_path, ca=False, alive=lambda: False, timeout=10)
    with pytest.raises(SubkubeError, match="did not rotate the certificates within 0s"):
        await ask(tmp_path, ca=False, alive=lambda: True, timeout=0)
    assert not list((tmp_path / renewal.ROTATION_DIR).iterdir())


async def test_rotating_a_vcluster_that_is_not_running_says_how_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBKUBE_STATE_DIR", str(tmp_path))
    with pytest.raises(SubkubeError, match=r"not running; `subkube resume vc1 -n team-a` first"):
        await renewal.rotate("team-a", "vc1", ca=False)
