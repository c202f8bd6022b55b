"""The local host's one container runtime: pods of the subkube image really run.

kwok fakes every other pod (Running, never executed). A vcluster installed with the Helm
chart needs its pod to really run, so the host runs that pod's container: a container of the
built image where podman is installed, else `subkube ARGS` as a local process (see
`engine`). Either gets what a kubelet would give it: its volumes as directories (claims as
their provisioned directories, so data outlives the pod), a service-account token bound to
the pod, the in-cluster environment; one that exits is restarted with a kubelet's back-off
and counted in the pod's restartCount. It listens on free loopback ports, and a kwok
PortForward object points `kubectl port-forward` there; Logs and Attach objects serve its
output to `kubectl logs` and `kubectl attach`, an Exec object runs `kubectl exec` (inside
the container, or in the process's directory).
"""

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import shutil
import time
from pathlib import Path

from subkube import podman
from subkube.controlplane.kwok import ATTACHES, EXECS, LOGS, PORT_FORWARDS
from subkube.controlplane.ports import free_port
from subkube.controlplane.process import Process
from subkube.hostcluster import engine, podspec
from subkube.kube.controller import Controller
from subkube.kube.informer import Informer
from subkube.kube.resource import (
    CONFIGMAPS,
    EVENTS,
    PODS,
    PVCS,
    PVS,
    SECRETS,
    STATEFULSETS,
    Resource,
    key_of,
)
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.log import kv

log = logging.getLogger("subkube.host.runtime")

TOKEN_SECONDS = 3600
MAX_BACKOFF = 60.0
# A process that ran this long before exiting starts its back-off afresh (a kubelet's rule).
STABLE_SECONDS = 600.0
# How often a pod whose image is not built yet is tried again.
IMAGE_RETRY_SECONDS = 10.0
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


class NotReady(Exception):
    """Something the pod needs is not there yet (an unbound claim); try again later."""


@dataclasses.dataclass
class LocalPod:
    uid: str
    process: Process
    sandbox: Path
    grace: float
    tasks: list[asyncio.Task[None]]
    restarts: int = 0
    last_start: float = 0.0


class LocalRuntime:
    def __init__(
        self, kube: Kube, root: Path, api_port: int, runs_in: engine.Engine = engine.Engine.process
    ) -> None:
        self.kube = kube
        self.root = root
        self.api_port = api_port
        self.engine = runs_in
        # Every pod the chart makes carries this label; watching only those keeps the
        # runtime's cache small on a host with thousands of simulated pods.
        self.pods = Informer(
            kube, PODS, label_selector=podspec.RUNTIME_POD_SELECTOR, name="runtime-pods"
        )
        self.controller: Controller[tuple[str, str]] = Controller("runtime", self._reconcile, 2)
        self.running: dict[tuple[str, str], LocalPod] = {}
        self.warned: set[str] = set()

    async def start(self) -> None:
        left = await engine.remove_leftovers(str(self.root))
        if left:
            log.warning("removed containers of a previous run", extra=kv(containers=left))
        self.pods.add_handler(lambda _e, o: self.controller.add(key_of(o)))
        self.pods.start()
        self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()
        await self.pods.stop()
        await asyncio.gather(*(self._stop_pod(k, grace=10) for k in list(self.running)))
        await engine.remove_leftovers(str(self.root))

    async def _reconcile(self, key: tuple[str, str]) -> None:
        pod = self.pods.get(*key)
        local = self.running.get(key)
        wanted = pod is not None and podspec.runs_locally(pod)
        if local is not None and (not wanted or pod is None or pod["metadata"]["uid"] != local.uid):
            await self._stop_pod(key)
            local = None
            if pod is None or "deletionTimestamp" in pod["metadata"]:
                await self._forget_objects(key, None)
        if not wanted or pod is None:
            return
        if local is None:
            await self._start_pod(key, pod)
        elif not local.process.running:
            if time.monotonic() - local.last_start > STABLE_SECONDS:
                local.restarts = 0
            delay = min(2.0**local.restarts, MAX_BACKOFF) - (time.monotonic() - local.last_start)
            if delay > 0:
                self.controller.queue.add_after(key, delay)
                return
            local.restarts += 1
            local.last_start = time.monotonic()
            log.warning("restarting", extra=kv(pod="/".join(key), restarts=local.restarts))
            code = local.process.returncode
            await local.process.start()
            local.tasks.append(asyncio.create_task(self._watch_exit(key, local)))
            await self._count_restart(key, pod["spec"]["containers"][0]["name"], code)

    async def _start_pod(self, key: tuple[str, str], pod: Obj) -> None:
        container = pod["spec"]["containers"][0]
        if self.engine is engine.Engine.container and not await podman.image_exists(
            container["image"]
        ):
            await self._image_missing(pod, container["image"])
            self.controller.queue.add_after(key, IMAGE_RETRY_SECONDS)
            return
        sandbox = sandbox_dir(self.root, pod["metadata"]["uid"])
        volumes = await self._volumes(pod, sandbox)
        mounts = {
            m["mountPath"]: volumes[m["name"]] / m.get("subPath", "")
            for m in container.get("volumeMounts") or []
            if m["name"] in volumes
        }
        ports = {port: free_port() for port in podspec.container_ports(container)}
        local_port = ports.get(podspec.API_CONTAINER_PORT) or free_port()
        owner = None
        name = f"pod/{'/'.join(key)}"
        try:
            if self.engine is engine.Engine.container:
                owner = await self._hand_over(pod, container, volumes)
                start = functools.partial(self._container, replicas=await self._replicas(pod))
            else:
                start = self._process
            process, cwd, exec_env = start(name, pod, container, mounts, local_port, sandbox)
        except ValueError as exc:
            log.error("cannot run pod", extra=kv(pod="/".join(key), error=str(exc)))
            return
        await self.kube.apply(PORT_FORWARDS, podspec.port_forward(pod, ports))
        await self.kube.apply(LOGS, podspec.logs(pod, container["name"], process.log_path))
        await self.kube.apply(ATTACHES, podspec.attach(pod, container["name"], process.log_path))
        await self.kube.apply(EXECS, podspec.exec_in(pod, cwd, exec_env))
        grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        local = LocalPod(pod["metadata"]["uid"], process, sandbox, grace, [])
        await process.start()
        local.last_start = time.monotonic()
        self.running[key] = local
        local.tasks.append(asyncio.create_task(self._watch_exit(key, local)))
        local.tasks.append(asyncio.create_task(self._renew_tokens(pod, sandbox, owner)))
        log.info(
            "pod started",
            extra=kv(pod="/".join(key), pid=process.pid, ports=ports, engine=self.engine),
        )

    def _container(
        self,
        name: str,
        pod: Obj,
        container: Obj,
        mounts: dict[str, Path],
        local_port: int,
        sandbox: Path,
        *,
        replicas: int,
    ) -> tuple[Process, Path, dict[str, str]]:
        """A container of the pod's image, paths and environment as the pod gives them, at an
        address of its own where its StatefulSet peers find it; what `kubectl exec` runs goes
        through the engine, from the pod's directory."""
        meta = pod["metadata"]
        pod = podspec.with_address(pod, podspec.pod_address(meta["namespace"], meta["name"]))
        env = podspec.container_env(
            pod,
            container,
            api_port=self.api_port,
            local_port=local_port,
            service_account_dir="",
            mounts={},
        )
        container_name = podspec.container_name(pod)
        run_args = podspec.container_run_args(
            pod,
            container,
            name=container_name,
            labels={engine.HOST_LABEL: str(self.root)},
            mounts=mounts,
            env=env,
            ulimits=podman.ulimits(),
            hosts=podspec.peer_hosts(pod, replicas),
        )
        process = engine.ContainerProcess(
            name, container_name, run_args, container_log(sandbox, container)
        )
        exec_env = {"SUBKUBE_EXEC_PREFIX": json.dumps(engine.exec_prefix(container_name))}
        return process, sandbox, exec_env

    def _process(
        self,
        name: str,
        pod: Obj,
        container: Obj,
        mounts: dict[str, Path],
        local_port: int,
        sandbox: Path,
    ) -> tuple[Process, Path, dict[str, str]]:
        """This installation's subkube as a local process, container paths rewritten to the
        directories behind the mounts; `kubectl exec` runs beside it, with its environment."""
        env = podspec.container_env(
            pod,
            container,
            api_port=self.api_port,
            local_port=local_port,
            service_account_dir=str(mounts.get(podspec.SERVICE_ACCOUNT_MOUNT, "")),
            mounts=mounts,
        )
        cwd = rewrite_dir(container.get("workingDir"), mounts) or sandbox
        argv = podspec.container_argv(container, mounts)
        log_file = container_log(sandbox, container)
        return Process(name, argv, log_file, env=env, cwd=cwd, cri_log=True), cwd, env

    async def _replicas(self, pod: Obj) -> int:
        """How many pods the pod's StatefulSet wants (its peers); 1 for any other pod."""
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "StatefulSet":
                sts = await self.kube.get_or_none(
                    STATEFULSETS, ref["name"], pod["metadata"]["namespace"]
                )
                return int((sts or {}).get("spec", {}).get("replicas") or 1)
        return 1

    async def _image_missing(self, pod: Obj, image: str) -> None:
        """Say so once per pod, where `kubectl describe pod` and the helm driver look: a
        Warning event, as a kubelet does for an image it may not pull."""
        meta = pod["metadata"]
        if meta["uid"] in self.warned:
            return
        self.warned.add(meta["uid"])
        message = (
            f"image {image} is not in podman's local storage: build it with `make image` "
            "(subkube image build), or start the host with --runtime process"
        )
        log.error("image not built", extra=kv(pod=meta["name"], image=image))
        with contextlib.suppress(ApiError):
            await self.kube.create(
                EVENTS,
                podspec.warning_event(
                    pod, "ErrImageNeverPull", message, dt.datetime.now(dt.UTC).strftime(RFC3339)
                ),
                meta["namespace"],
            )

    async def _hand_over(
        self, pod: Obj, container: Obj, volumes: dict[str, Path]
    ) -> tuple[int, int] | None:
        """The volumes a kubelet would give to the pod's user (all but hostPath), given."""
        identity = podspec.run_as(pod, container)
        if identity is None:
            return None
        uid, gid, fs_group = identity
        owner = (uid, gid if fs_group is None else fs_group)
        host_paths = {v["name"] for v in pod["spec"].get("volumes") or [] if "hostPath" in v}
        await engine.hand_over([p for n, p in volumes.items() if n not in host_paths], *owner)
        return owner

    async def _count_restart(self, key: tuple[str, str], container: str, code: int | None) -> None:
        """Show the restart in the pod's status, as a kubelet does: whoever restarts the
        process to have it start afresh (the helm driver's restore) waits for that. kwok
        set the status once, when the pod became ready, and leaves it alone since."""
        try:
            pod = await self.kube.get(PODS, key[1], key[0])
            statuses = pod.get("status", {}).get("containerStatuses") or []
            for status in statuses:
                if status.get("name") == container:
                    status["restartCount"] = int(status.get("restartCount") or 0) + 1
                    # A signal's death reads 128 + its number in a container, not Python's -N.
                    exit_code = 128 - code if code is not None and code < 0 else code or 0
                    status["lastState"] = {"terminated": {"exitCode": exit_code}}
            await self.kube.patch(
                PODS,
                key[1],
                {"status": {"containerStatuses": statuses}},
                key[0],
                subresource="status",
            )
        except ApiError as exc:
            log.warning("restart not recorded", extra=kv(pod="/".join(key), error=str(exc)))

    async def _watch_exit(self, key: tuple[str, str], local: LocalPod) -> None:
        code = await local.process.wait()
        if self.running.get(key) is local:
            log.warning("pod process exited", extra=kv(pod="/".join(key), code=code))
            self.controller.add(key)

    async def _stop_pod(self, key: tuple[str, str], grace: float | None = None) -> None:
        local = self.running.pop(key, None)
        if local is None:
            return
        for task in local.tasks:
            task.cancel()
        await local.process.stop(grace=local.grace if grace is None else grace)
        await asyncio.to_thread(shutil.rmtree, local.sandbox, True)
        log.info("pod stopped", extra=kv(pod="/".join(key)))

    async def _forget_objects(self, key: tuple[str, str], uid: str | None) -> None:
        for res in (PORT_FORWARDS, LOGS, ATTACHES, EXECS):
            with contextlib.suppress(ApiError):
                await self.kube.delete(res, key[1], key[0], uid=uid)

    async def _volumes(self, pod: Obj, sandbox: Path) -> dict[str, Path]:
        out = {}
        for volume in pod["spec"].get("volumes") or []:
            path = await self._volume(pod, volume, sandbox / "volumes" / volume["name"])
            if path is not None:
                out[volume["name"]] = path
        return out

    async def _volume(self, pod: Obj, volume: Obj, path: Path) -> Path | None:
        namespace = pod["metadata"]["namespace"]
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            return await self._claim_dir(namespace, claim)
        if "hostPath" in volume:
            return Path(volume["hostPath"]["path"])
        path.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            return path
        if "secret" in volume:
            await self._write_object(SECRETS, namespace, volume["secret"], path, "secretName")
        elif "configMap" in volume:
            await self._write_object(CONFIGMAPS, namespace, volume["configMap"], path, "name")
        elif "projected" in volume:
            await self._write_projected(pod, volume["projected"], path)
        else:
            log.warning(
                "volume type not provided locally, left empty",
                extra=kv(pod=pod["metadata"]["name"], volume=volume["name"]),
            )
        return path

    async def _claim_dir(self, namespace: str, claim_name: str) -> Path:
        claim = await self.kube.get_or_none(PVCS, claim_name, namespace)
        volume_name = (claim or {}).get("spec", {}).get("volumeName")
        if not volume_name:
            raise NotReady(f"claim {namespace}/{claim_name} is not bound yet")
        volume = await self.kube.get(PVS, volume_name)
        host_path = volume["spec"].get("hostPath", {}).get("path")
        if not host_path:
            raise NotReady(f"volume {volume_name} has no local directory")
        Path(host_path).mkdir(parents=True, exist_ok=True)
        return Path(host_path)

    async def _write_object(
        self, res: Resource, namespace: str, source: Obj, path: Path, name_key: str
    ) -> None:
        obj = await self.kube.get_or_none(res, source[name_key], namespace)
        if obj is None:
            if source.get("optional"):
                return
            raise NotReady(f"{res.kind} {namespace}/{source[name_key]} does not exist yet")
        files = _files_of(obj, res)
        for key, rel in podspec.key_to_path(source.get("items"), list(files)).items():
            _write(path / rel, files[key])

    async def _write_projected(self, pod: Obj, projected: Obj, path: Path) -> None:
        namespace = pod["metadata"]["namespace"]
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                token = await self._token(pod, source["serviceAccountToken"])
                _write(path / source["serviceAccountToken"]["path"], token.encode())
            elif "configMap" in source or "secret" in source:
                kind = "configMap" if "configMap" in source else "secret"
                res = CONFIGMAPS if kind == "configMap" else SECRETS
                await self._write_object(res, namespace, source[kind], path, "name")
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    value = podspec.field_value(pod, item["fieldRef"]["fieldPath"])
                    _write(path / item["path"], value.encode())

    async def _token(self, pod: Obj, source: Obj) -> str:
        meta = pod["metadata"]
        sa = pod["spec"].get("serviceAccountName") or "default"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [source["audience"]] if source.get("audience") else [],
                "expirationSeconds": int(source.get("expirationSeconds", TOKEN_SECONDS)),
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        path = f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{sa}/token"
        response = await self.kube.request("POST", path, body=request)
        return str(response["status"]["token"])

    async def _renew_tokens(self, pod: Obj, sandbox: Path, owner: tuple[int, int] | None) -> None:
        """Rewrite the token files well before they expire, as a kubelet does at 80 %."""
        while True:
            await asyncio.sleep(TOKEN_SECONDS * 0.8)
            for volume in pod["spec"].get("volumes") or []:
                if "projected" in volume:
                    path = sandbox / "volumes" / volume["name"]
                    try:
                        await self._write_projected(pod, volume["projected"], path)
                        if owner is not None:
                            await engine.hand_over([path], *owner)
                    except (ApiError, NotReady) as exc:
                        log.warning("token renewal failed", extra=kv(error=str(exc)))


def sandbox_dir(home: Path, uid: str) -> Path:
    """A runtime pod's directory: apart from the simulated pods' `pods/<namespace>/<name>`."""
    return home / "runtime" / uid


def container_log(sandbox: Path, container: Obj) -> Path:
    """The CRI log kwok serves to `kubectl logs` and `attach`."""
    return sandbox / f"{container['name']}.log"


def rewrite_dir(value: str | None, mounts: dict[str, Path]) -> Path | None:
    return Path(podspec.rewrite_path(value, mounts)) if value else None


def _files_of(obj: Obj, res: Resource) -> dict[str, bytes]:
    if res is SECRETS:
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    files = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    files.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return files


def _write(path: Path, content: bytes) -> None:
    """Atomically, so a process re-reading a rotating token never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.chmod(0o600)
    tmp.replace(path)
