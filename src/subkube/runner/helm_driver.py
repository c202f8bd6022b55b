"""`--driver helm`: the vcluster runs on the host as the chart's StatefulSet, installed with
the real helm binary; pause/resume scale it, delete uninstalls it."""

import asyncio
import base64
import datetime as dt
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

import subkube
from subkube import daemonize
from subkube.binaries.catalog import locate
from subkube.config.model import Config
from subkube.controlplane import kubeconfig as kc
from subkube.controlplane.process import free_port, port_in_use
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import EVENTS, PODS, PVCS, SECRETS, Resource
from subkube.kube.rest import ApiError, Kube
from subkube.runner import forwarder, hostside
from subkube.runner.state import VClusterState, vcluster_dir

STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
PAUSED_REPLICAS = "subkube.io/paused-replicas"


def chart_dir() -> Path:
    """The chart shipped in the wheel, or the one of this checkout."""
    package = Path(subkube.__file__).parent
    for candidate in (package / "charts" / "subkube", package.parents[1] / "charts" / "subkube"):
        if (candidate / "Chart.yaml").exists():
            return candidate
    raise SubkubeError("the subkube Helm chart is not installed with this package")


def helm(args: list[str], state: VClusterState) -> str:
    cmd = [str(locate("helm")), *args, "--kubeconfig", state.host_kubeconfig]
    if state.host_context:
        cmd += ["--kube-context", state.host_context]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise SubkubeError(f"helm {args[0]} failed: {last}")
    return res.stdout


async def _published_kubeconfig(host: Kube, state: VClusterState) -> str | None:
    secret = await host.get_or_none(
        SECRETS, hostside.kubeconfig_secret_name(state.name), state.namespace
    )
    config = (secret or {}).get("data", {}).get("config")
    return base64.b64decode(config).decode() if config else None


async def _wait_ready(
    state: VClusterState, deadline: float, on_phase: Callable[[str], None] | None
) -> None:
    """Until the StatefulSet's pod is Ready and a kubeconfig is published."""
    pod_name = f"{state.name}-0"
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        while time.monotonic() < deadline:
            pod = await host.get_or_none(PODS, pod_name, state.namespace)
            conditions = (pod or {}).get("status", {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                if await _published_kubeconfig(host, state):
                    return
                if on_phase:
                    on_phase("starting the control plane")
            elif on_phase:
                on_phase((pod or {}).get("status", {}).get("phase", "Pending"))
            await asyncio.sleep(1)
        raise _not_up(state, await _latest_warning(host, state))


async def _wait_api(state: VClusterState, path: Path, deadline: float) -> None:
    """Until the virtual API serves its default namespace through the forwarded port, with
    the kubeconfig the runner published (read again each time: a restarted pod may publish
    a new one)."""
    last = "no answer"
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        while time.monotonic() < deadline:
            published = await _published_kubeconfig(host, state)
            if published:
                kc.write(path, local_kubeconfig(published, state.local_port))
                try:
                    async with connect(path) as virtual:
                        await Kube(virtual).request("GET", "/api/v1/namespaces/default")
                        return
                except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
            await asyncio.sleep(0.5)
        raise _not_up(state, await _latest_warning(host, state) or f"port-forward: {last}")


async def _latest_warning(host: Kube, state: VClusterState) -> str:
    """The newest Warning event of the StatefulSet or its pod (a refused pod, a quota)."""
    newest: tuple[str, str] = ("", "")
    for involved in (state.name, f"{state.name}-0"):
        events = await host.list(
            EVENTS,
            state.namespace,
            field_selector=f"involvedObject.name={involved},type=Warning",
        )
        for event in events["items"]:
            when = event.get("lastTimestamp") or event.get("eventTime") or ""
            newest = max(newest, (when, str(event.get("message", ""))))
    return newest[1]


def _not_up(state: VClusterState, why: str) -> SubkubeError:
    pod = f"{state.name}-0"
    return SubkubeError(
        f"vcluster {state.name} did not come up within the timeout"
        + (f" ({why})" if why else "")
        + f"; `kubectl -n {state.namespace} describe statefulset,pod` and "
        f"`kubectl -n {state.namespace} logs {pod}` tell more"
    )


def start_forwarder(state: VClusterState) -> None:
    stop_forwarder(state)
    if not state.local_port or port_in_use(state.local_port):
        state.local_port = free_port()
    log_path = vcluster_dir(state.namespace, state.name) / "port-forward.log"
    proc = daemonize.spawn(
        forwarder.MODULE,
        forwarder.argv(
            state=state.path,
            kubeconfig=state.host_kubeconfig,
            context=state.host_context,
            namespace=state.namespace,
            pod=f"{state.name}-0",
            port=state.local_port,
            target=hostside.API_TARGET_PORT,
        ),
        log_path,
    )
    state.forwarder_pid = proc.pid
    state.save()


def stop_forwarder(state: VClusterState) -> None:
    if state.forwarder_pid and pid_alive(state.forwarder_pid):
        daemonize.terminate(state.forwarder_pid)
    state.forwarder_pid = None


def install(
    state: VClusterState,
    config: Config,
    *,
    upgrade: bool,
    timeout: float,
    on_phase: Callable[[str], None] | None,
) -> VClusterState:
    values = vcluster_dir(state.namespace, state.name) / "values.yaml"
    values.parent.mkdir(parents=True, exist_ok=True)
    values.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    verb = ["upgrade", "--install"] if upgrade else ["install"]
    helm([*verb, state.name, str(chart_dir()), "-n", state.namespace, "-f", str(values)], state)
    state.driver = "helm"
    state.phase = "Starting"
    state.save()
    return install_wait(state, timeout, on_phase)


def install_wait(
    state: VClusterState, timeout: float, on_phase: Callable[[str], None] | None
) -> VClusterState:
    """Wait for the pod and its kubeconfig, forward a local port to it, and wait until the
    virtual API answers there; the vcluster's kubeconfig then names that port."""
    deadline = time.monotonic() + timeout
    asyncio.run(_wait_ready(state, deadline, on_phase))
    start_forwarder(state)
    if on_phase:
        on_phase("waiting for the API through port-forward")
    path = vcluster_dir(state.namespace, state.name) / "kubeconfig"
    try:
        asyncio.run(_wait_api(state, path, deadline))
    except SubkubeError:
        stop_forwarder(state)
        state.save()
        raise
    state.kubeconfig = str(path)
    state.server = f"https://127.0.0.1:{state.local_port}"
    state.phase = "Running"
    state.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state.save()
    return state


async def scale(state: VClusterState, pause: bool, timeout: float = 120.0) -> None:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        sts = await host.get(STATEFULSETS, state.name, state.namespace)
        annotations = sts["metadata"].get("annotations") or {}
        if pause:
            patch = {
                "metadata": {"annotations": {PAUSED_REPLICAS: str(sts["spec"].get("replicas", 1))}},
                "spec": {"replicas": 0},
            }
        else:
            patch = {
                "metadata": {"annotations": {PAUSED_REPLICAS: None}},
                "spec": {"replicas": int(annotations.get(PAUSED_REPLICAS, "1"))},
            }
        await host.patch(STATEFULSETS, state.name, patch, state.namespace)
        if pause:
            await _wait_pod_gone(host, state, time.monotonic() + timeout)


async def _wait_pod_gone(host: Kube, state: VClusterState, deadline: float) -> None:
    """Until the runner's pod is gone: a syncer still running would put back the tenant
    pods that pause removes next."""
    while await host.get_or_none(PODS, f"{state.name}-0", state.namespace):
        if time.monotonic() > deadline:
            raise SubkubeError(
                f"the pod {state.name}-0 is still running after scaling to 0; "
                f"see `kubectl -n {state.namespace} describe pod {state.name}-0`"
            )
        await asyncio.sleep(0.5)


def uninstall(state: VClusterState, keep_data: bool) -> None:
    helm(["uninstall", state.name, "-n", state.namespace, "--ignore-not-found"], state)
    if not keep_data:
        asyncio.run(_delete_data_claims(state))


async def _delete_data_claims(state: VClusterState) -> None:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        await Kube(api).delete(PVCS, f"data-{state.name}-0", state.namespace)


def local_kubeconfig(published: str, port: int) -> dict[str, Any]:
    data = yaml.safe_load(published)
    for cluster in data.get("clusters") or []:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    return dict(data)
