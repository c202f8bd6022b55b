"""`--driver helm`: the vcluster runs on the host as the chart's StatefulSet, installed with
the real helm binary; pause/resume scale it, delete uninstalls it. The CLI reaches it
through a port-forward it keeps up on one local port."""

import asyncio
import base64
import contextlib
import datetime as dt
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import subkube
from subkube import daemonize
from subkube.aio import poll_until
from subkube.binaries.catalog import locate
from subkube.config.model import Config
from subkube.controlplane import kubeconfig as kc
from subkube.controlplane.ports import free_port, port_in_use
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import EVENTS, PODS, PVCS, SECRETS, STATEFULSETS, label_selector
from subkube.kube.rest import ApiError, Kube
from subkube.lifecycle import forwarder, hostops
from subkube.lifecycle.driver import Driver, Phase
from subkube.runner import hostside
from subkube.runner.sleep import sleeping_on_pod
from subkube.runner.state import VClusterState, vcluster_dir
from subkube.snapshot import archive, pending
from subkube.snapshot.capture import destination
from subkube.snapshot.store import store_kind
from subkube.snapshot.urls import Location, S3Settings

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


def _restarts(pod: dict[str, Any] | None) -> int:
    statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
    return sum(int(c.get("restartCount", 0)) for c in statuses)


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
            claims = await self.host.list(PVCS, s.namespace)
            for claim in claims["items"]:
                name = claim["metadata"]["name"]
                if re.fullmatch(rf"data-{re.escape(s.name)}-\d+", name):
                    await self.host.delete(PVCS, name, s.namespace)

    async def rotate_certs(self, *, ca: bool) -> None:
        """Through `subkube inpod rotate-certs` in the pod; then the local kubeconfig takes
        the admin certificate (and CA) the runner published."""
        s = self.state
        if ca and self.config().highly_available:
            raise SubkubeError(
                "rotating the CA of a vcluster with replicas is not supported yet: its "
                "replicas share the CA, and would have to take the new one at once"
            )
        # Each replica has leaves of its own; the one in pod 0 publishes the kubeconfig.
        for pod in reversed(await self._runner_pods() or [f"{s.name}-0"]):
            await self._inpod(
                "rotating the certificates", "rotate-certs", *(["--ca"] if ca else []), pod=pod
            )
        published = await self._published_kubeconfig()
        if published and s.kubeconfig:
            kc.write(Path(s.kubeconfig), local_kubeconfig(published, s.local_port))

    async def observe(self) -> VClusterState:
        """Sleeping or not, as the pod says (it sleeps on its own, after inactivity or on
        schedule): recorded in the local state."""
        s = self.state
        if s.phase not in ("Running", "Sleeping"):
            return s
        pod = await self.host.get_or_none(PODS, f"{s.name}-0", s.namespace)
        self._record(sleeping_on_pod(pod))
        return s

    async def _sleep(self) -> None:
        await self._inpod("going to sleep", "sleep")
        await self.observe()

    async def _awake(self, timeout: float) -> None:
        # The pod un-marks itself only once its control plane is ready, a moment after the
        # first request is answered: until then `list` would still say Sleeping.
        async def running() -> bool:
            return (await self.observe()).phase == "Running"

        if not await poll_until(running, timeout, 0.3):
            raise SubkubeError(
                f"vcluster {self.state.name} answered but its pod still says it sleeps"
            )

    def _record(self, sleeping: dict[str, str] | None) -> None:
        s = self.state
        s.phase = "Sleeping" if sleeping else "Running"
        s.sleeping_since = (sleeping or {}).get("since", "")
        s.sleep_reason = (sleeping or {}).get("reason", "")
        s.save()

    async def _inpod(
        self,
        what: str,
        command: str,
        *args: str,
        stdin: Path | None = None,
        stdout: Path | None = None,
        pod: str = "",
    ) -> None:
        """`subkube inpod COMMAND NAME -n NAMESPACE ARGS` in the runner's pod (the first
        replica's unless POD is given: the pod's own rights and files, through the user's
        `kubectl exec`), reading the file STDIN, writing the file STDOUT."""
        s = self.state
        pod = pod or f"{s.name}-0"
        cmd = [str(locate("kubectl")), "--kubeconfig", s.host_kubeconfig]
        if s.host_context:
            cmd += ["--context", s.host_context]
        cmd += ["exec", *(["-i"] if stdin else []), "-n", s.namespace, pod, "--"]
        cmd += ["subkube", "inpod", command, s.name, "-n", s.namespace, *args]
        with contextlib.ExitStack() as files:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=files.enter_context(stdin.open("rb"))
                if stdin
                else asyncio.subprocess.DEVNULL,
                stdout=files.enter_context(stdout.open("wb"))
                if stdout
                else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
        if proc.returncode != 0:
            last = (err.decode().strip().splitlines() or ["no output"])[-1]
            raise SubkubeError(f"{what} in pod {pod} failed: {last}")

    async def snapshot(self, to: str, s3: S3Settings) -> Location:
        """Taken in the pod (`subkube inpod snapshot`), which has the store, and streamed
        here; uploaded with the user's credentials, so the pod needs none."""
        s = self.state
        store_kind(self.config())
        target, loc = destination(to, vcluster=s.name, namespace=s.namespace, s3=s3)
        await self._running_pod("snapshot")
        with tempfile.TemporaryDirectory(prefix="subkube-snapshot-") as tmp:
            path = Path(tmp) / "snapshot.tar.gz"
            await self._inpod("taking the snapshot", "snapshot", stdout=path)
            archive.inspect(path, f"the snapshot from pod {s.name}-0")
            await target.upload(path, loc)
        return loc

    async def restore(
        self, archive_path: Path, config: Config, timeout: float, on_phase: Phase
    ) -> VClusterState:
        """`subkube inpod restore` stages the archive in the pod and stops the runner; the
        kubelet restarts its container (the pod and its data volume stay), and the runner
        restores the store before its control plane starts."""
        s = self.state
        if config.highly_available or self.config().highly_available:
            raise SubkubeError(
                "restoring into a vcluster with replicas is not supported yet (each replica "
                "holds a member of its etcd cluster): restore into one created without "
                "controlPlane.highAvailability"
            )
        pending.check(archive_path, config)
        pod = await self._running_pod("restore")
        before = _restarts(pod)
        await asyncio.to_thread(stop_forwarder, s)
        await self._inpod("staging the restore", "restore", stdin=archive_path)
        s.phase = "Starting"
        s.save()
        deadline = time.monotonic() + timeout
        while (
            _restarts(await self.host.get_or_none(PODS, pod["metadata"]["name"], s.namespace))
            <= before
        ):
            if time.monotonic() > deadline:
                raise self._not_up("its runner did not restart to restore")
            await asyncio.sleep(0.5)
        return await self._wait_serving(max(1.0, deadline - time.monotonic()), on_phase)

    async def _running_pod(self, what: str) -> dict[str, Any]:
        s = self.state
        pod = await self.host.get_or_none(PODS, f"{s.name}-0", s.namespace)
        if pod is None or pod.get("status", {}).get("phase") != "Running":
            raise SubkubeError(
                f"vcluster {s.name} has no running pod, which holds its store: "
                f"`subkube resume {s.name} -n {s.namespace}`, then {what} again"
            )
        return pod

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
                # The Service, not a pod: with replicas, any one of them serves, and the
                # forwarder takes another when its pod goes.
                resource=f"service/{s.name}",
                port=s.local_port,
                target=hostside.API_PORT,
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
        while pods := await self._runner_pods():
            if time.monotonic() > deadline:
                raise SubkubeError(
                    f"the pod {pods[0]} is still running after scaling to 0; "
                    f"see `kubectl -n {s.namespace} describe pod {pods[0]}`"
                )
            await asyncio.sleep(0.5)

    async def _runner_pods(self) -> list[str]:
        """The names of the StatefulSet's pods (one per replica)."""
        s = self.state
        selector = label_selector(hostside.runner_labels(s.name))
        found = await self.host.list(PODS, s.namespace, label_selector=selector)
        return sorted(p["metadata"]["name"] for p in found["items"])
