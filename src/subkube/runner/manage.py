"""Create and delete local vclusters (each one a detached runner process)."""

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import aiohttp

from subkube import daemonize
from subkube.config.model import Config
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import NAMESPACES, SERVICEACCOUNTS, SERVICES
from subkube.kube.rest import ApiError, Kube
from subkube.runner import hostside
from subkube.runner.state import VClusterState, load_state, vcluster_dir
from subkube.runner.vcluster import store_of
from subkube.syncer import names

DAEMON_MODULE = "subkube.runner.daemon"
CREATED_BY_LABEL = f"{names.DOMAIN}/created-by"


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
    kubeconfig: Path, context: str | None, namespace: str, create: bool
) -> None:
    async with connect(kubeconfig, context) as api:
        host = Kube(api)
        try:
            if await host.get_or_none(NAMESPACES, namespace) is not None:
                return
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SubkubeError(
                f"cannot reach the host cluster of {kubeconfig} ({exc}); is it "
                "running? (`subkube host status` for a local host)"
            ) from exc
        if not create:
            raise SubkubeError(f"host namespace {namespace} does not exist")
        await host.create(
            NAMESPACES, {"metadata": {"name": namespace, "labels": {CREATED_BY_LABEL: "subkube"}}}
        )


def create(
    name: str,
    namespace: str,
    *,
    kubeconfig: str | None,
    context: str | None,
    config: Config | None = None,
    timeout: float = 180.0,
    create_namespace: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> VClusterState:
    try:
        names.validate_vcluster_name(name)
    except ValueError as exc:
        raise SubkubeError(str(exc)) from exc
    current = load_state(namespace, name)
    if is_running(current):
        raise SubkubeError(f"vcluster {name} already exists in namespace {namespace}")
    host = host_kubeconfig(kubeconfig)
    asyncio.run(_prepare_namespace(host, context, namespace, create_namespace))
    log_path = vcluster_dir(namespace, name) / "vcluster.log"
    args = [
        "--name",
        name,
        "--namespace",
        namespace,
        "--host-kubeconfig",
        str(host),
        "--timeout",
        str(timeout),
    ]
    if context:
        args += ["--host-context", context]
    # The daemon gets the effective config (files, --set and defaults merged and checked),
    # kept beside its data so a restart runs with what was asked at create.
    config_path = vcluster_dir(namespace, name) / "config.json"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text((config or Config()).model_dump_json(indent=2))
    args += ["--config", str(config_path)]
    store_of(config or Config())  # refuse unsupported stores before starting anything
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


async def _delete_host_objects(state: VClusterState) -> None:
    async with connect(Path(state.host_kubeconfig), state.host_context or None) as api:
        host = Kube(api)
        # Everything synced is owned by this Service: the host's garbage collector removes it.
        await host.delete(SERVICES, state.name, state.namespace, propagation="Background")
        await host.delete(
            SERVICEACCOUNTS, hostside.workload_service_account(state.name), state.namespace
        )


def delete(name: str, namespace: str, *, keep_data: bool = False) -> None:
    state = load_state(namespace, name)
    if state is None:
        raise SubkubeError(f"no vcluster {name} in namespace {namespace}")
    if state.pid and pid_alive(state.pid):
        daemonize.terminate(state.pid)
    try:
        asyncio.run(_delete_host_objects(state))
    except (ApiError, aiohttp.ClientError, OSError) as exc:
        raise SubkubeError(
            f"stopped vcluster {name}, but could not remove its host objects "
            f"({exc}); run `subkube delete {name} -n {namespace}` again"
        ) from exc
    if not keep_data:
        shutil.rmtree(vcluster_dir(namespace, name), ignore_errors=True)
