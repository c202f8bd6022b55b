"""Certificates that never expire: the runner renews its leaves before 80 % of their
lifetime is spent, rotates them (or the CAs too) when `subkube certs rotate` asks, and has
every user of them take the new ones.

A rotation is asked for with a request file in the runner's data dir, which the runner
looks for every second and answers with a file of its own. The CLI writes it on this
machine for a local runner, and through `kubectl exec` into the pod (`cli/inpod.py`) for
the chart's: the same code path either way, and the runner stays the PKI's one writer.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from subkube.controlplane.pki import next_renewal, renew_leaves, rotate_ca
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.log import kv
from subkube.runner.state import load_state, vcluster_dir

if TYPE_CHECKING:
    # The CLI asks runners to renew through this module (ask); running one is the
    # runner's, which imports the control plane anyway.
    from subkube.controlplane.controlplane import ControlPlane

log = logging.getLogger(__name__)

ROTATION_DIR = "rotation"
# How often the runner looks for requests and at the clock.
TICK = 1.0
# A failed renewal is tried again this much later (or at the next request).
RETRY_AFTER = dt.timedelta(seconds=30)
# Enough for a CA rotation: the API server restarts, then the controller-manager.
ROTATE_TIMEOUT = 180.0
# These read their client certificates once, from kubeconfigs that embed them: they are
# restarted after every renewal (a controller pause of seconds, no tenant request fails).
CLIENT_COMPONENTS = ("kube-controller-manager", "kube-scheduler")
# It reloads its serving and client certificates and client CAs from disk by itself, but
# reads the CA it trusts kubelets with (--kubelet-certificate-authority) once.
API_SERVER = "kube-apiserver"


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def ask(data_dir: Path, *, ca: bool, alive: Callable[[], bool], timeout: float) -> None:
    """Ask the runner keeping DATA_DIR to rotate its leaf certificates (CA: its CAs too)
    and wait for its answer. ALIVE says whether that runner still runs."""
    directory = data_dir / ROTATION_DIR
    directory.mkdir(parents=True, exist_ok=True)
    ident = uuid.uuid4().hex
    request, answer = directory / f"{ident}.request", directory / f"{ident}.answer"
    _write_json(request, {"ca": ca})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not answer.exists():
            if not alive():
                raise SubkubeError(
                    "the vcluster's runner stopped before it rotated the certificates"
                )
            if loop.time() > deadline:
                raise SubkubeError(
                    f"the vcluster's runner did not rotate the certificates within "
                    f"{timeout:.0f}s; its log tells why"
                )
            await asyncio.sleep(0.2)
        error = str(json.loads(answer.read_text()).get("error", ""))
    finally:
        request.unlink(missing_ok=True)
        answer.unlink(missing_ok=True)
    if error:
        raise SubkubeError(f"rotating the certificates failed: {error}")


async def rotate(namespace: str, name: str, *, ca: bool, timeout: float = ROTATE_TIMEOUT) -> None:
    """Have the runner of vcluster NAME, whose state is under this machine's state dir (a
    local daemon's, or in the chart's pod the one `--data-dir` names), rotate."""
    state = load_state(namespace, name)
    if state is not None and state.phase == "Sleeping":
        # Asleep, the process holds only the address; it renews what is due when it wakes.
        raise SubkubeError(
            f"vcluster {name} in {namespace} is sleeping; `subkube wake {name} -n "
            f"{namespace}` first"
        )
    if state is None or not state.running:
        raise SubkubeError(
            f"vcluster {name} in {namespace} is not running; `subkube resume {name} -n "
            f"{namespace}` first (a starting runner renews what is due by itself)"
        )
    pid = state.pid
    await ask(
        vcluster_dir(namespace, name) / "data",
        ca=ca,
        alive=lambda: pid_alive(pid),
        timeout=timeout,
    )


class Renewer:
    """Renews the leaves of CONTROL_PLANE when due and rotates on request; AFTER(ca) then
    has the runner's own users of certificates take the new ones."""

    def __init__(
        self,
        control_plane: "ControlPlane",
        lifetime: dt.timedelta,
        data_dir: Path,
        after: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.control_plane = control_plane
        self.lifetime = lifetime
        self.requests = data_dir / ROTATION_DIR
        self.after = after

    async def run(self) -> None:
        renew_at = next_renewal(self.control_plane.pki)
        while True:
            await asyncio.sleep(TICK)
            requests = sorted(self.requests.glob("*.request"))
            now = dt.datetime.now(dt.UTC)
            if not requests and now < renew_at:
                continue
            ca = any(_asks_for_ca(r) for r in requests)
            error = ""
            try:
                await self.renew(ca=ca)
                renew_at = next_renewal(self.control_plane.pki)
                log.info("certificates renewed", extra=kv(ca=ca, next=renew_at.isoformat()))
            # Whatever went wrong, the loop must live on: the next attempt may succeed, and
            # an expired certificate would take the whole vcluster down.
            except Exception as exc:
                log.exception("renewing the certificates failed", extra=kv(ca=ca))
                error = str(exc) or type(exc).__name__
                renew_at = now + RETRY_AFTER
            for request in requests:
                with contextlib.suppress(OSError):
                    _write_json(request.with_suffix(".answer"), {"error": error})
                    request.unlink()

    async def renew(self, *, ca: bool) -> None:
        """Reissue every leaf (CA: the CAs and every key too) and restart what reads them
        only at start; then AFTER."""
        cp = self.control_plane
        stop = [*CLIENT_COMPONENTS, *([API_SERVER] if ca else [])]
        async with cp.stopped(stop):
            await asyncio.to_thread(rotate_ca if ca else renew_leaves, cp.pki, self.lifetime)
        await self.after(ca)


def _asks_for_ca(request: Path) -> bool:
    try:
        return bool(json.loads(request.read_text()).get("ca"))
    except (OSError, ValueError):
        return False
