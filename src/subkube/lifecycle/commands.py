"""The CLI's lifecycle commands: each is one coroutine, run in one event loop, on one host
session, through the driver the vcluster runs with."""

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from subkube import daemonize
from subkube.config.model import Config
from subkube.errors import SubkubeError
from subkube.kube.rest import ApiError
from subkube.lifecycle import hostops
from subkube.lifecycle.driver import Driver, Phase
from subkube.lifecycle.helm import HelmDriver
from subkube.lifecycle.kubeconfigs import current_context, server_of
from subkube.lifecycle.local import LocalDriver
from subkube.runner.state import VClusterState, existing, known_vclusters, load_state
from subkube.snapshot import archive
from subkube.snapshot.archive import Metadata
from subkube.snapshot.capture import fetch
from subkube.snapshot.urls import Location, S3Settings
from subkube.syncer import names
from subkube.syncer.registry import check_supported

DRIVERS: dict[str, type[Driver]] = {d.name: d for d in (LocalDriver, HelmDriver)}


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


def stop_on_host(server: str, reason: str) -> list[VClusterState]:
    """Stop the local vclusters whose host API is SERVER, recording REASON; the ones
    stopped. Their data stays: `subkube resume` starts them once the host is back."""
    stopped = []
    for namespace, name in known_vclusters():
        state = load_state(namespace, name)
        if state is None or state.driver != "local" or not daemonize.pid_alive(state.pid):
            continue
        if server_of(Path(state.host_kubeconfig), state.host_context or None) != server:
            continue
        assert state.pid is not None
        daemonize.terminate(state.pid)
        state = load_state(namespace, name) or state
        state.phase, state.pid, state.components, state.reason = "Stopped", None, {}, reason
        state.save()
        stopped.append(state)
    return stopped


@asynccontextmanager
async def driver_of(state: VClusterState) -> AsyncIterator[Driver]:
    """STATE's driver on a session with its host; an unreachable host is one clear line."""
    kubeconfig = Path(state.host_kubeconfig)
    try:
        async with hostops.session(kubeconfig, state.host_context or None) as host:
            yield DRIVERS[state.driver](host, state)
    except hostops.UNREACHABLE as exc:
        raise hostops.unreachable(kubeconfig, exc) from exc
    except ApiError as exc:
        raise SubkubeError(
            f"the host refused a request for vcluster {state.name} ({exc}); "
            f"run the command again once that is fixed"
        ) from exc


async def create(
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
    on_phase: Phase = None,
    on_warning: Callable[[str], None] | None = None,
    restore_from: Path | None = None,
) -> VClusterState:
    """Create (or upgrade) a vcluster; with RESTORE_FROM, a snapshot archive, it runs on that
    archive's store from the start."""
    try:
        names.validate_vcluster_name(name)
    except ValueError as exc:
        raise SubkubeError(str(exc)) from exc
    config = config or Config()
    check_supported(config.sync)
    if driver not in DRIVERS:
        raise SubkubeError(f"--driver {driver} is not available; use {' or '.join(DRIVERS)}")
    current = load_state(namespace, name)
    if current is not None and upgrade:
        if current.driver != driver:
            raise SubkubeError(
                f"vcluster {name} runs with --driver {current.driver}; "
                "delete it first to change the driver"
            )
    elif current is not None and (current.running or current.sleeping):
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
    state = VClusterState(
        name=name,
        namespace=namespace,
        host_kubeconfig=str(host),
        host_context=context or "",
        driver=driver,
    )
    async with driver_of(state) as d:
        if restore_from is not None:
            return await d.create_restored(
                restore_from,
                config,
                create_namespace=create_namespace,
                timeout=timeout,
                on_phase=on_phase,
                on_warning=on_warning,
            )
        return await d.create(
            config,
            current=current,
            create_namespace=create_namespace,
            timeout=timeout,
            on_phase=on_phase,
            on_warning=on_warning,
        )


async def snapshot(name: str, namespace: str, to: str, s3: S3Settings) -> Location:
    async with driver_of(existing(name, namespace)) as d:
        return await d.snapshot(to, s3)


async def restore(
    name: str,
    namespace: str,
    url: str,
    *,
    as_: str | None,
    s3: S3Settings,
    kubeconfig: str | None,
    context: str | None,
    driver: str,
    timeout: float,
    on_phase: Phase = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[VClusterState, Metadata]:
    """Run vcluster NAME (or a new one named AS_) in NAMESPACE on the snapshot at URL: an
    existing vcluster keeps its own config, a new one gets the snapshot's; the state, and
    what the snapshot says about itself."""
    target = as_ or name
    current = load_state(namespace, target)
    if as_ and current is not None:
        raise SubkubeError(
            f"vcluster {as_} already exists in namespace {namespace}; "
            f"`subkube restore {as_} -n {namespace} --from URL` restores into it"
        )
    with tempfile.TemporaryDirectory(prefix="subkube-restore-") as tmp:
        path = await fetch(url, Path(tmp), s3)
        snapshot = archive.inspect(path, url)
        if current is not None:
            async with driver_of(current) as d:
                state = await d.restore(path, d.config(), timeout, on_phase)
        else:
            state = await create(
                target,
                namespace,
                kubeconfig=kubeconfig,
                context=context,
                config=snapshot.config,
                timeout=timeout,
                driver=driver,
                on_phase=on_phase,
                on_warning=on_warning,
                restore_from=path,
            )
    return state, snapshot.metadata


async def pause(name: str, namespace: str) -> int:
    async with driver_of(existing(name, namespace)) as d:
        return await d.pause()


async def resume(name: str, namespace: str, timeout: float, on_phase: Phase) -> VClusterState:
    async with driver_of(existing(name, namespace)) as d:
        return await d.resume(timeout, on_phase)


async def delete(name: str, namespace: str, *, keep_data: bool, delete_namespace: bool) -> bool:
    async with driver_of(existing(name, namespace)) as d:
        return await d.delete(keep_data=keep_data, delete_namespace=delete_namespace)


async def rotate_certs(name: str, namespace: str, *, ca: bool) -> VClusterState:
    async with driver_of(existing(name, namespace)) as d:
        await d.rotate_certs(ca=ca)
        return d.state


async def sleep(name: str, namespace: str) -> VClusterState:
    async with driver_of(existing(name, namespace)) as d:
        return await d.sleep()


async def wake(name: str, namespace: str, timeout: float) -> tuple[VClusterState, float]:
    """The state once awake, and the seconds the waking request took."""
    async with driver_of(existing(name, namespace)) as d:
        took = await d.wake(timeout)
        return d.state, took


async def observe(states: list[VClusterState]) -> list[VClusterState]:
    """STATES as their runners have them now; one whose host does not answer as recorded."""
    out = []
    for state in states:
        if not state.phase_on_host:
            out.append(state)
            continue
        try:
            async with driver_of(state) as d:
                out.append(await d.observe())
        except SubkubeError:
            out.append(state)
    return out


async def describe(name: str, namespace: str) -> tuple[VClusterState, dict[str, Any]]:
    """STATE, and what it owns on the host: counts per kind and the name mapping."""
    state = existing(name, namespace)
    try:
        async with driver_of(state) as d:
            state = await d.observe()
            counts = await hostops.synced_counts(d.host, state)
            mapping = await hostops.name_mapping(d.host, state)
    except SubkubeError as exc:
        # A vcluster that stopped because its host went away is still described, and why.
        if state.running:
            raise
        return state, {"synced": {}, "mapping": [], "host": str(exc)}
    return state, {
        "synced": counts,
        "mapping": [{"kind": k, "virtual": v, "host": h} for k, v, h in mapping],
        "host": "",
    }
