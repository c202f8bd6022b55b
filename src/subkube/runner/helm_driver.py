"""`--driver helm`: the vcluster runs on the host as the chart's StatefulSet, installed with
the real helm binary; pause/resume scale it, delete uninstalls it."""

import asyncio
import datetime as dt
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

import subkube
from subkube.binaries.catalog import locate
from subkube.config.model import Config
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import PODS, PVCS, Resource
from subkube.kube.rest import Kube
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


async def _wait_ready(
    state: VClusterState, timeout: float, on_phase: Callable[[str], None] | None
) -> None:
    """Until the StatefulSet's pod is Ready. (Whether the virtual API answers from outside
    is for `subkube connect`, which needs a way into the host network.)"""
    deadline = time.monotonic() + timeout
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        while time.monotonic() < deadline:
            pod = await host.get_or_none(PODS, f"{state.name}-0", state.namespace)
            conditions = (pod or {}).get("status", {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return
            if on_phase:
                on_phase((pod or {}).get("status", {}).get("phase", "Pending"))
            await asyncio.sleep(1)
    raise SubkubeError(
        f"pod {state.name}-0 in {state.namespace} was not Ready within "
        f"{timeout:.0f}s; `kubectl -n {state.namespace} describe pod "
        f"{state.name}-0` says why"
    )


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
    state.server = f"https://{state.name}.{state.namespace}.svc:443"
    state.save()
    return install_wait(state, timeout, on_phase)


def install_wait(
    state: VClusterState, timeout: float, on_phase: Callable[[str], None] | None
) -> VClusterState:
    asyncio.run(_wait_ready(state, timeout, on_phase))
    state.phase = "Running"
    state.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state.save()
    return state


async def scale(state: VClusterState, pause: bool) -> None:
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


def uninstall(state: VClusterState, keep_data: bool) -> None:
    helm(["uninstall", state.name, "-n", state.namespace, "--ignore-not-found"], state)
    if not keep_data:
        asyncio.run(_delete_data_claims(state))


async def _delete_data_claims(state: VClusterState) -> None:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        await Kube(api).delete(PVCS, f"data-{state.name}-0", state.namespace)
