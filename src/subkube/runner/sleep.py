"""Sleep and wake, the runner's side: when to sleep, going to sleep, and how the CLI asks.

Going to sleep, the runner stops its control plane and syncer, removes the tenant's host
pods (unless sleepMode.keepWorkloads), records phase Sleeping, and execs its own process into
`subkube.frontdoor.asleep`, which keeps only the listening socket. Waking is any client's
first request (or the autoWakeup schedule): see frontdoor/asleep.py.

How the CLI asks, for each driver:
- sleep: SLEEP_SIGNAL to the runner's pid from its state file (`ask_to_sleep`); with the
  chart, that runs in the pod (`subkube inpod sleep`, through `kubectl exec`).
- wake: a request to the vcluster's API through the address its kubeconfig names (`wake`);
  with the chart, through the port-forward, which stays up while the pod sleeps.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from subkube.config.schedule import parse_duration
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.frontdoor import asleep, clock, handover, policy
from subkube.kube.client import connect
from subkube.kube.resource import PODS
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.log import kv
from subkube.runner import hostside
from subkube.runner.state import VClusterState, load_state
from subkube.syncer import names

if TYPE_CHECKING:
    # The CLI asks runners to sleep and wake through this module; the runner's own
    # imports (the syncer, every kind) are for the runner to pay.
    from subkube.runner.vcluster import VCluster

log = logging.getLogger(__name__)

SLEEP_SIGNAL = signal.SIGUSR1
# How often an awake runner looks at its idleness and schedule.
TICK = 1.0
# The chart's pod says on itself since when and why it sleeps, for `subkube list` and
# `describe` on the user's machine (the pod's state file is out of their reach).
SLEEPING_ANNOTATION = f"{names.DOMAIN}/sleeping"
# The chart's pod knows its own name (downward API): set only there.
POD_NAME_ENV = "POD_NAME"


class Sleeper:
    """Lets the runner's daemon sleep instead of stopping (daemonize.Sleeper)."""

    def __init__(self, vc: "VCluster", state: VClusterState) -> None:
        self.vc = vc
        self.state = state
        self.mode = vc.config.config.sleepMode
        self.pod = os.environ.get(POD_NAME_ENV, "")
        self.reason = ""
        self._asked = asyncio.Event()
        # From the start: a request that comes while the control plane starts (or wakes)
        # is kept for when it runs, instead of SIGUSR1's default action, which kills.
        asyncio.get_running_loop().add_signal_handler(SLEEP_SIGNAL, self._asked.set)
        self._awake_since = clock.now()

    async def wanted(self) -> None:
        door = self.vc.frontdoor
        assert door is not None, "the vcluster runs"
        await self._mark_pod(None)
        auto = self.mode.autoSleep
        after = parse_duration(auto.afterInactivity).total_seconds() if auto.afterInactivity else 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._asked.wait(), TICK)
            reason = (
                policy.MANUAL
                if self._asked.is_set()
                else policy.sleep_reason(
                    idle_for=door.idle_for(),
                    after_inactivity=after,
                    schedule=auto.schedule,
                    timezone=auto.timezone,
                    awake_since=self._awake_since,
                    now=clock.now(),
                )
            )
            # Inactivity waits until no connection shows life; a schedule or a person asking
            # cut the open ones (their clients reconnect, and wake it).
            if reason and await door.quiesce(force=reason != policy.INACTIVITY):
                self.reason = reason
                return

    async def sleep(self, stopping: asyncio.Event) -> None:
        c = self.vc.config
        removed = 0
        if not self.mode.keepWorkloads:
            removed = await self._host(
                "removing the tenant's pods",
                lambda host: hostside.delete_tenant_pods(host, c.host_namespace, c.name),
            )
        if stopping.is_set():
            return
        since = clock.now()
        await self._mark_pod({"since": _iso(since), "reason": self.reason})
        s = self.state
        s.phase, s.sleeping_since, s.sleep_reason = "Sleeping", _iso(since), self.reason
        s.components = {}
        s.save()
        log.info("going to sleep", extra=kv(reason=self.reason, host_pods_removed=removed))
        # Ignored, not handled: that survives the exec, so no moment of `asleep`'s start
        # lets a sleep request kill the process.
        signal.signal(SLEEP_SIGNAL, signal.SIG_IGN)
        door = self.vc.frontdoor
        assert door is not None
        door.pass_on()
        wake = self.mode.autoWakeup
        handover.exec_into(
            asleep.argv(
                state=s.path.resolve(),
                since=since,
                schedule=wake.schedule,
                timezone=wake.timezone,
                # Its DNS pods stay only with the workloads, and reconnect while it sleeps.
                quiet=door.quiet_peers if self.mode.keepWorkloads else set(),
            )
        )

    async def _mark_pod(self, sleeping: dict[str, str] | None) -> None:
        if not self.pod:
            return
        value = json.dumps(sleeping) if sleeping else None
        patch = {"metadata": {"annotations": {SLEEPING_ANNOTATION: value}}}
        c = self.vc.config
        await self._host(
            "marking the pod", lambda host: host.patch(PODS, self.pod, patch, c.host_namespace)
        )

    async def _host(self, what: str, call: Callable[[Kube], Awaitable[Any]]) -> Any:
        """CALL with a host client of its own (the vcluster's are closed when it sleeps). A
        host that does not answer costs a sleep or wake nothing but what CALL would do."""
        c = self.vc.config
        try:
            async with connect(c.host_kubeconfig, c.host_context) as api:
                return await call(Kube(api))
        except (ApiError, aiohttp.ClientError, OSError, SubkubeError) as exc:
            log.warning("host call failed", extra=kv(what=what, error=str(exc)))
            return 0


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


def sleeping_on_pod(pod: Obj | None) -> dict[str, str] | None:
    """Since when and why the chart's pod POD sleeps ({"since", "reason"}), if it does."""
    value = ((pod or {}).get("metadata", {}).get("annotations") or {}).get(SLEEPING_ANNOTATION)
    try:
        return dict(json.loads(value)) if value else None
    except ValueError:
        return None


async def ask_to_sleep(namespace: str, name: str, timeout: float = 120.0) -> VClusterState:
    """Put the vcluster whose runner runs on this machine to sleep now (the local driver;
    with the chart, `subkube inpod sleep` in its pod); returns its state once asleep."""
    state = load_state(namespace, name)
    if state is None:
        raise SubkubeError(f"no vcluster {name} in namespace {namespace}")
    if state.sleeping:
        return state
    if not state.running or state.pid is None:
        raise SubkubeError(f"vcluster {name} is {state.phase.lower()}: only a running one sleeps")
    os.kill(state.pid, SLEEP_SIGNAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now = load_state(namespace, name)
        if now is not None and now.sleeping:
            return now
        if now is None or not pid_alive(now.pid):
            raise SubkubeError(f"vcluster {name} stopped instead of going to sleep")
    raise SubkubeError(f"vcluster {name} did not go to sleep within {timeout:.0f}s")


async def wake(kubeconfig: Path, timeout: float = 120.0) -> float:
    """Wake the vcluster KUBECONFIG reaches (a request through its front door, which a
    sleeping one answers once awake); the seconds until it answered."""
    started = time.monotonic()
    deadline = started + timeout
    last = ""
    async with connect(kubeconfig) as api:
        while time.monotonic() < deadline:
            try:
                await Kube(api).request(
                    "GET", "/version", timeout=max(deadline - time.monotonic(), 1.0)
                )
                return time.monotonic() - started
            except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                # The front door refuses no one, but a port-forward coming up may.
                last = str(exc) or type(exc).__name__
                await asyncio.sleep(0.5)
    raise SubkubeError(f"the vcluster did not answer within {timeout:.0f}s ({last})")
