"""`--driver helm`: the vcluster runs on the host as the chart's StatefulSet, installed with
the real helm binary; pause/resume scale it, delete uninstalls it. The CLI reaches it
through a port-forward it keeps up on one local port."""

import asyncio
import base64
import datetime as dt
import time
from pathlib import Path
from typing import Any

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
from subkube.lifecycle import forwarder, hostops
from subkube.lifecycle.driver import Driver, Phase
from subkube.runner import hostside
from subkube.runner.state import VClusterState, vcluster_dir

STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
PAUSED_REPLICAS = "subkube.io/paused-replicas"
POD_GONE_TIMEOUT = 120.0


def chart_dir() -> Path:
    """The chart shipped in the wheel, or the one of this checkout."""
    package = Path(subkube.__file__).parent
    for candidate in (package / "charts" / "subkube", package.parents[1] / "charts" / "subkube"):
        if (candidate / "Chart.yaml").exists():
            return candidate
    raise SubkubeError("the subkube Helm chart is not installed with this package")


async def helm(args: list[str], state: VClusterState) -> str:
    cmd = [str(locate("helm")), *args, "--kubeconfig", state.host_kubeconfig]
    if state.host_context:
        cmd += ["--kube-context", state.host_context]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        last = (err.decode().strip().splitlines() or ["no output"])[-1]
        raise SubkubeError(f"helm {args[0]} failed: {last}")
    return out.decode()


def local_kubeconfig(published: str, port: int) -> dict[str, Any]:
    data = yaml.safe_load(published)
    for cluster in data.get("clusters") or []:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    return dict(data)


def stop_forwarder(state: VClusterState) -> None:
    if state.forwarder_pid and pid_alive(state.forwarder_pid):
        daemonize.terminate(state.forwarder_pid)
    state.forwarder_pid = None


class HelmDriver(Driver):
    name = "helm"

    async def _install(
        self, config: Config, current: VClusterState | None, timeout: float, on_phase: Phase
    ) -> VClusterState:
        s = self.state
        if current is not None:
            await asyncio.to_thread(stop_forwarder, current)
            s.local_port = current.local_port
        values = vcluster_dir(s.namespace, s.name) / "values.yaml"
        values.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        verb = ["upgrade", "--install"] if current is not None else ["install"]
        await helm([*verb, s.name, str(chart_dir()), "-n", s.namespace, "-f", str(values)], s)
        s.driver = "helm"
        s.phase = "Starting"
        s.save()
        return await self._wait_serving(timeout, on_phase)

    async def _stop(self) -> None:
        await asyncio.to_thread(stop_forwarder, self.state)
        await self._scale(pause=True)

    async def _start(self, timeout: float, on_phase: Phase) -> VClusterState:
        await self._scale(pause=False)
        return await self._wait_serving(timeout, on_phase)

    async def _remove(self, keep_data: bool) -> None:
        s = self.state
        await asyncio.to_thread(stop_forwarder, s)
        await helm(["uninstall", s.name, "-n", s.namespace, "--ignore-not-found"], s)
        if not keep_data:
            await self.host.delete(PVCS, f"data-{s.name}-0", s.namespace)

    async def _wait_serving(self, timeout: float, on_phase: Phase) -> VClusterState:
        """Wait for the pod and its kubeconfig, forward a local port to it, and wait until
        the virtual API answers there; the vcluster's kubeconfig then names that port."""
        s = self.state
        deadline = time.monotonic() + timeout
        await self._wait_ready(deadline, on_phase)
        await asyncio.to_thread(self._start_forwarder)
        if on_phase:
            on_phase("waiting for the API through port-forward")
        path = vcluster_dir(s.namespace, s.name) / "kubeconfig"
        try:
            await self._wait_api(path, deadline)
        except SubkubeError:
            await asyncio.to_thread(stop_forwarder, s)
            s.save()
            raise
        s.kubeconfig = str(path)
        s.server = f"https://127.0.0.1:{s.local_port}"
        s.phase = "Running"
        s.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        s.save()
        return s

    def _start_forwarder(self) -> None:
        s = self.state
        stop_forwarder(s)
        if not s.local_port or port_in_use(s.local_port):
            s.local_port = free_port()
        log_path = vcluster_dir(s.namespace, s.name) / "port-forward.log"
        proc = daemonize.spawn(
            forwarder.MODULE,
            forwarder.argv(
                state=s.path,
                kubeconfig=s.host_kubeconfig,
                context=s.host_context,
                namespace=s.namespace,
                pod=f"{s.name}-0",
                port=s.local_port,
                target=hostside.API_TARGET_PORT,
            ),
            log_path,
        )
        s.forwarder_pid = proc.pid
        s.save()

    async def _published_kubeconfig(self) -> str | None:
        s = self.state
        name = hostside.kubeconfig_secret_name(s.name)
        secret = await self.host.get_or_none(SECRETS, name, s.namespace)
        config = (secret or {}).get("data", {}).get("config")
        return base64.b64decode(config).decode() if config else None

    async def _wait_ready(self, deadline: float, on_phase: Phase) -> None:
        """Until the StatefulSet's pod is Ready and a kubeconfig is published."""
        s = self.state
        while time.monotonic() < deadline:
            pod = await self.host.get_or_none(PODS, f"{s.name}-0", s.namespace)
            conditions = (pod or {}).get("status", {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                if await self._published_kubeconfig():
                    return
                if on_phase:
                    on_phase("starting the control plane")
            elif on_phase:
                on_phase((pod or {}).get("status", {}).get("phase", "Pending"))
            await asyncio.sleep(1)
        raise self._not_up(await self._latest_warning())

    async def _wait_api(self, path: Path, deadline: float) -> None:
        """Until the virtual API serves its default namespace through the forwarded port,
        with the kubeconfig the runner published (read again each time: a restarted pod may
        publish a new one)."""
        last = "no answer"
        while time.monotonic() < deadline:
            published = await self._published_kubeconfig()
            if published:
                kc.write(path, local_kubeconfig(published, self.state.local_port))
                try:
                    async with connect(path) as virtual:
                        await Kube(virtual).request("GET", "/api/v1/namespaces/default")
                        return
                except (ApiError, *hostops.UNREACHABLE) as exc:
                    last = str(exc) or type(exc).__name__
            await asyncio.sleep(0.5)
        raise self._not_up(await self._latest_warning() or f"port-forward: {last}")

    async def _latest_warning(self) -> str:
        """The newest Warning event of the StatefulSet or its pod (a refused pod, a quota)."""
        s = self.state
        newest: tuple[str, str] = ("", "")
        for involved in (s.name, f"{s.name}-0"):
            events = await self.host.list(
                EVENTS,
                s.namespace,
                field_selector=f"involvedObject.name={involved},type=Warning",
            )
            for event in events["items"]:
                when = event.get("lastTimestamp") or event.get("eventTime") or ""
                newest = max(newest, (when, str(event.get("message", ""))))
        return newest[1]

    def _not_up(self, why: str) -> SubkubeError:
        s = self.state
        pod = f"{s.name}-0"
        return SubkubeError(
            f"vcluster {s.name} did not come up within the timeout"
            + (f" ({why})" if why else "")
            + f"; `kubectl -n {s.namespace} describe statefulset,pod` and "
            f"`kubectl -n {s.namespace} logs {pod}` tell more"
        )

    async def _scale(self, *, pause: bool) -> None:
        s = self.state
        sts = await self.host.get(STATEFULSETS, s.name, s.namespace)
        annotations = sts["metadata"].get("annotations") or {}
        if pause:
            replicas = str(sts["spec"].get("replicas", 1))
            patch: dict[str, Any] = {
                "metadata": {"annotations": {PAUSED_REPLICAS: replicas}},
                "spec": {"replicas": 0},
            }
        else:
            patch = {
                "metadata": {"annotations": {PAUSED_REPLICAS: None}},
                "spec": {"replicas": int(annotations.get(PAUSED_REPLICAS, "1"))},
            }
        await self.host.patch(STATEFULSETS, s.name, patch, s.namespace)
        if pause:
            await self._wait_pod_gone(time.monotonic() + POD_GONE_TIMEOUT)

    async def _wait_pod_gone(self, deadline: float) -> None:
        """Until the runner's pod is gone: a syncer still running would put back the tenant
        pods that pause removes next."""
        s = self.state
        while await self.host.get_or_none(PODS, f"{s.name}-0", s.namespace):
            if time.monotonic() > deadline:
                raise SubkubeError(
                    f"the pod {s.name}-0 is still running after scaling to 0; "
                    f"see `kubectl -n {s.namespace} describe pod {s.name}-0`"
                )
            await asyncio.sleep(0.5)
