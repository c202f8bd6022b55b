"""Create and delete local vclusters (each one a detached runner process)."""

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import aiohttp

from subkube import daemonize
from subkube.config.model import Config, Sync
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import CRDS, NAMESPACES, PODS, SERVICEACCOUNTS, SERVICES, Resource
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.runner import helm_driver, hostside
from subkube.runner.kubeconfigs import current_context
from subkube.runner.state import VClusterState, known_vclusters, load_state, vcluster_dir
from subkube.runner.vcluster import check_supported
from subkube.syncer import clusterscoped, names, registry
from subkube.syncer.resources.customresources import kind as customresources
from subkube.syncer.resources.customresources.translate import resource_of, served_version
from subkube.syncer.resources.pods import security

DAEMON_MODULE = "subkube.runner.daemon"
CREATED_BY_LABEL = f"{names.DOMAIN}/created-by"
# The host's Pod Security admission: the level every pod of the namespace must meet.
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
NAMESPACE_GONE_TIMEOUT = 120.0


def host_kubeconfig(explicit: str | None) -> Path:
    """--kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config."""
    if explicit:
        path = Path(explicit).expanduser()
    elif os.environ.get("KUBECONFIG"):
        path = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0]).expanduser()
    else:
        path = Path.home() / ".kube" / "config"
    if not path.is_file():
        raise SubkubeError(
            f"no kubeconfig at {path}: point --kubeconfig or KUBECONFIG at your host cluster, "
            "or start a local one with `subkube host up` and "
            "`export KUBECONFIG=$(subkube host kubeconfig)`"
        )
    return path.resolve()


def is_running(state: VClusterState | None) -> bool:
    return state is not None and state.running


async def _prepare_namespace(
    kubeconfig: Path, context: str | None, namespace: str, create: bool, level: str
) -> str | None:
    """Make sure NAMESPACE can take the vcluster; a warning if it lets pods break LEVEL."""
    async with connect(kubeconfig, context) as api:
        host = Kube(api)
        try:
            existing = await host.get_or_none(NAMESPACES, namespace)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SubkubeError(
                f"cannot reach the host cluster of {kubeconfig} ({exc}); is it "
                "running? (`subkube host status` for a local host)"
            ) from exc
        if existing is not None and existing.get("status", {}).get("phase") == "Terminating":
            # Just deleted (a previous `delete --delete-namespace`): nothing can be created
            # in it until it is gone, so wait for that and make it anew.
            deadline = asyncio.get_running_loop().time() + NAMESPACE_GONE_TIMEOUT
            while existing is not None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.5)
                existing = await host.get_or_none(NAMESPACES, namespace)
            if existing is not None:
                raise SubkubeError(
                    f"host namespace {namespace} is being deleted and still there after "
                    f"{NAMESPACE_GONE_TIMEOUT:.0f}s; wait for it or pick another namespace"
                )
        if existing is not None:
            labels = existing["metadata"].get("labels") or {}
            enforced = labels.get(ENFORCE_LABEL, "")
            if labels.get(CREATED_BY_LABEL) == "subkube" and security.more_permissive(
                level, enforced
            ):
                # A namespace subkube made lets in what its vclusters allow (an upgrade to a
                # lower level, or another vcluster there). It is never tightened: the pods of
                # a vcluster already in it would be refused by the host.
                patch = {"metadata": {"labels": {ENFORCE_LABEL: level}}}
                await host.patch(NAMESPACES, namespace, patch)
                return None
            if security.more_permissive(enforced, level):
                return (
                    f"host namespace {namespace} enforces Pod Security "
                    f"{enforced or 'privileged (no label)'}, more permissive than the "
                    f"vcluster's {level}: the syncer still refuses pods that break {level}, "
                    f"but label the namespace {ENFORCE_LABEL}={level} to have the host "
                    "refuse them too"
                )
            return None
        if not create:
            raise SubkubeError(f"host namespace {namespace} does not exist")
        labels = {CREATED_BY_LABEL: "subkube", ENFORCE_LABEL: level}
        await host.create(NAMESPACES, {"metadata": {"name": namespace, "labels": labels}})
        return None


async def _check_host_definitions(kubeconfig: Path, context: str | None, sync: Sync) -> None:
    async with connect(kubeconfig, context) as api:
        await customresources.check_host_definitions(Kube(api), sync)


def create(
    name: str,
    namespace: str,
    *,
    kubeconfig: str | None,
    context: str | None,
    config: Config | None = None,
    timeout: float = 180.0,
    create_namespace: bool = True,
    upgrade: bool = False,
    driver: str = "local",
    on_phase: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> VClusterState:
    try:
        names.validate_vcluster_name(name)
    except ValueError as exc:
        raise SubkubeError(str(exc)) from exc
    check_supported(config or Config())
    current = load_state(namespace, name)
    if driver not in ("local", "helm"):
        raise SubkubeError(f"--driver {driver} is not available; use local or helm")
    if current is not None and upgrade:
        if current.driver != driver:
            raise SubkubeError(
                f"vcluster {name} runs with --driver {current.driver}; "
                "delete it first to change the driver"
            )
        if current.pid and pid_alive(current.pid):
            daemonize.terminate(current.pid)
    elif is_running(current):
        raise SubkubeError(
            f"vcluster {name} already exists in namespace {namespace}; "
            "`--upgrade` applies new config to it"
        )
    if current is not None and not kubeconfig and not context:
        # An upgrade goes to the host the vcluster was created on, whatever context is
        # current now (after `subkube connect` it is the vcluster itself).
        kubeconfig, context = current.host_kubeconfig, current.host_context or None
    host = host_kubeconfig(kubeconfig)
    # Pin the host context now: `subkube connect` later changes the current context of
    # that very file, and the host must stay the host.
    context = context or current_context(host) or None
    # Before anything is made on the host: what it must already serve.
    sync = (config or Config()).sync
    if customresources.configured(sync):
        asyncio.run(_check_host_definitions(host, context, sync))
    level = (config or Config()).policies.podSecurityStandard
    warning = asyncio.run(_prepare_namespace(host, context, namespace, create_namespace, level))
    if warning and on_warning:
        on_warning(warning)
    if driver == "helm":
        state = VClusterState(
            name=name, namespace=namespace, host_kubeconfig=str(host), host_context=context or ""
        )
        if current is not None:
            helm_driver.stop_forwarder(current)
            state.local_port = current.local_port
        return helm_driver.install(
            state, config or Config(), upgrade=upgrade, timeout=timeout, on_phase=on_phase
        )
    # The daemon gets the effective config (files, --set and defaults merged and checked),
    # kept beside its data so a restart or resume runs with what was asked at create.
    config_path = vcluster_dir(namespace, name) / "config.json"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text((config or Config()).model_dump_json(indent=2))
    return _spawn(name, namespace, str(host), context, timeout, on_phase)


def _spawn(
    name: str,
    namespace: str,
    host: str,
    context: str | None,
    timeout: float,
    on_phase: Callable[[str], None] | None,
) -> VClusterState:
    directory = vcluster_dir(namespace, name)
    log_path = directory / "vcluster.log"
    args = [
        "--name",
        name,
        "--namespace",
        namespace,
        "--host-kubeconfig",
        host,
        "--timeout",
        str(timeout),
        "--config",
        str(directory / "config.json"),
    ]
    if context:
        args += ["--host-context", context]
    proc = daemonize.spawn(DAEMON_MODULE, args, log_path)
    return daemonize.wait_running(
        lambda: load_state(namespace, name),
        f"vcluster {namespace}/{name}",
        proc.pid,
        log_path,
        timeout + 30,
        on_phase,
        proc,
    )


def existing(name: str, namespace: str) -> VClusterState:
    state = load_state(namespace, name)
    if state is None:
        raise SubkubeError(
            f"no vcluster {name} in namespace {namespace}; `subkube list` shows them"
        )
    return state


async def _delete_tenant_pods(state: VClusterState) -> int:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        pods = await host.list(
            PODS, state.namespace, label_selector=f"{names.LABEL_MANAGED_BY}={state.name}"
        )
        for pod in pods["items"]:
            await host.delete(PODS, pod["metadata"]["name"], state.namespace)
        return len(pods["items"])


def pause(name: str, namespace: str) -> int:
    """Stop the control plane and syncer, remove the tenant's host pods (their virtual
    pods stay in the store); returns how many host pods were removed."""
    state = existing(name, namespace)
    if state.phase == "Paused":
        return 0
    if state.driver == "helm":
        helm_driver.stop_forwarder(state)
        asyncio.run(helm_driver.scale(state, pause=True))
    elif state.pid and pid_alive(state.pid):
        daemonize.terminate(state.pid)
    removed = asyncio.run(_delete_tenant_pods(state))
    state = existing(name, namespace)
    state.phase, state.pid, state.components = "Paused", None, {}
    state.save()
    return removed


def resume(
    name: str,
    namespace: str,
    *,
    timeout: float = 180.0,
    on_phase: Callable[[str], None] | None = None,
) -> VClusterState:
    state = existing(name, namespace)
    if state.running:
        return state
    if state.driver == "helm":
        asyncio.run(helm_driver.scale(state, pause=False))
        return helm_driver.install_wait(state, timeout, on_phase)
    return _spawn(
        name, namespace, state.host_kubeconfig, state.host_context or None, timeout, on_phase
    )


async def _delete_host_objects(state: VClusterState) -> None:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        # Everything synced is owned by this Service: the host's garbage collector removes it.
        await host.delete(SERVICES, state.name, state.namespace, propagation="Background")
        await host.delete(
            SERVICEACCOUNTS, hostside.workload_service_account(state.name), state.namespace
        )


async def _owned(host: Kube, state: VClusterState, res: Resource) -> list[Obj]:
    """This vcluster's host objects of RES: in its namespace, or cluster-scoped ones
    (which nothing owns, so only their labels and names tell whose they are)."""
    if res.namespaced:
        selector = f"{names.LABEL_MANAGED_BY}={state.name}"
        items = (await host.list(res, state.namespace, label_selector=selector))["items"]
        return [o for o in items if names.is_ours(o, vcluster=state.name)]
    selector = clusterscoped.selector(vcluster=state.name, host_namespace=state.namespace)
    try:
        items = (await host.list(res, label_selector=selector))["items"]
    except ApiError as exc:
        # Not served by this host, or not ours to read: then the vcluster made none either
        # (its rights come from the same rules).
        if exc.status in (403, 404):
            return []
        raise
    return [
        o
        for o in items
        if clusterscoped.is_ours(o, vcluster=state.name, host_namespace=state.namespace)
    ]


async def _synced_resources(host: Kube, state: VClusterState) -> list[Resource]:
    """What this vcluster can own on the host: the registry's kinds, plus the custom
    resources its config copies to the host (their version is the host CRD's)."""
    out = registry.to_host_resources()
    config_path = vcluster_dir(state.namespace, state.name) / "config.json"
    if not config_path.exists():
        return out
    sync = Config.model_validate_json(config_path.read_text()).sync
    for key, entry in sorted(sync.toHost.customResources.items()):
        crd = await host.get_or_none(CRDS, key) if entry.enabled else None
        version = crd and served_version(crd)
        if crd and version:
            out.append(resource_of(crd, version))
    return out


async def synced_counts(state: VClusterState) -> dict[str, int]:
    """Host objects this vcluster owns, per kind."""
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        return {
            res.plural: len(await _owned(host, state, res))
            for res in await _synced_resources(host, state)
        }


async def name_mapping(state: VClusterState) -> list[tuple[str, str, str]]:
    """(kind, virtual namespace/name, host name) of every synced object."""
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        out = []
        for res in await _synced_resources(host, state):
            for obj in await _owned(host, state, res):
                key = names.virtual_key(obj)
                if key:
                    out.append((res.kind, "/".join(k for k in key if k), obj["metadata"]["name"]))
        return sorted(out)


async def _delete_cluster_objects(state: VClusterState) -> None:
    """Cluster-scoped copies have no owner for the garbage collector: delete them here."""
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        for res in registry.to_host_resources():
            if res.namespaced:
                continue
            for obj in await _owned(host, state, res):
                meta = obj["metadata"]
                await host.delete(res, meta["name"], uid=meta["uid"])


async def _wait_collected(state: VClusterState, timeout: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if not any((await synced_counts(state)).values()):
            return
        await asyncio.sleep(0.5)
    raise SubkubeError(
        f"the host's garbage collector has not removed vcluster {state.name}'s "
        f"objects from {state.namespace} within {timeout:.0f}s; is its "
        "controller-manager running?"
    )


async def _delete_namespace_if_ours(state: VClusterState) -> bool:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        ns = await host.get_or_none(NAMESPACES, state.namespace)
        if ns is None or (ns["metadata"].get("labels") or {}).get(CREATED_BY_LABEL) != "subkube":
            return False
        await host.delete(NAMESPACES, state.namespace)
        return True


def delete(
    name: str, namespace: str, *, keep_data: bool = False, delete_namespace: bool = False
) -> bool:
    """Remove the vcluster and everything it made on the host; True if the namespace went
    too (only with DELETE_NAMESPACE, only if subkube created it and no other vcluster
    lives there)."""
    state = load_state(namespace, name)
    if state is None:
        raise SubkubeError(f"no vcluster {name} in namespace {namespace}")
    if state.pid and pid_alive(state.pid):
        daemonize.terminate(state.pid)
    helm_driver.stop_forwarder(state)
    try:
        if state.driver == "helm":
            helm_driver.uninstall(state, keep_data)
        else:
            asyncio.run(_delete_host_objects(state))
        asyncio.run(_delete_cluster_objects(state))
        asyncio.run(_wait_collected(state))
        others = [n for ns, n in known_vclusters() if ns == namespace and n != name]
        namespace_gone = (
            delete_namespace and not others and asyncio.run(_delete_namespace_if_ours(state))
        )
    except (ApiError, aiohttp.ClientError, OSError) as exc:
        raise SubkubeError(
            f"stopped vcluster {name}, but could not remove its host objects "
            f"({exc}); run `subkube delete {name} -n {namespace}` again"
        ) from exc
    if not keep_data:
        shutil.rmtree(vcluster_dir(namespace, name), ignore_errors=True)
    return namespace_gone
