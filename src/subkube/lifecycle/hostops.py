"""What every driver does on the host the same way: the namespace a vcluster goes into, the
tenant's pods, and the objects a vcluster owns there (to count, list and delete them)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from subkube.aio import poll_until
from subkube.config.model import Config, Sync
from subkube.errors import SubkubeError
from subkube.kube.client import connect
from subkube.kube.resource import CRDS, NAMESPACES, Resource
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.runner.state import VClusterState, vcluster_dir
from subkube.syncer import clusterscoped, names, registry
from subkube.syncer.resources.customresources import kind as customresources
from subkube.syncer.resources.customresources.translate import resource_of, served_version
from subkube.syncer.resources.pods import security

CREATED_BY_LABEL = f"{names.DOMAIN}/created-by"
# The host's Pod Security admission: the level every pod of the namespace must meet.
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
NAMESPACE_GONE_TIMEOUT = 120.0
COLLECT_TIMEOUT = 120.0
# Between looks at what the collector has left, with few left. Each look lists every
# synced kind, so with thousands left it looks up to ten times less often.
COLLECT_EVERY = 0.5
# What a host that is down or unreachable raises, in place of an answer.
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)


@asynccontextmanager
async def session(kubeconfig: Path, context: str | None) -> AsyncIterator[Kube]:
    """The one host connection a command uses from start to end."""
    async with connect(kubeconfig, context) as api:
        yield Kube(api)


def unreachable(kubeconfig: str | Path, exc: BaseException) -> SubkubeError:
    return SubkubeError(
        f"cannot reach the host cluster of {kubeconfig} ({exc or type(exc).__name__}); is it "
        "running? (`subkube host status` for a local host)"
    )


async def prepare_namespace(host: Kube, namespace: str, create: bool, level: str) -> str | None:
    """Make sure NAMESPACE can take the vcluster; a warning if it lets pods break LEVEL."""
    existing = await host.get_or_none(NAMESPACES, namespace)
    if existing is not None and existing.get("status", {}).get("phase") == "Terminating":
        # Just deleted (a previous `delete --delete-namespace`): nothing can be created
        # in it until it is gone, so wait for that and make it anew.
        async def gone() -> bool:
            return await host.get_or_none(NAMESPACES, namespace) is None

        if not await poll_until(gone, NAMESPACE_GONE_TIMEOUT, 0.5):
            raise SubkubeError(
                f"host namespace {namespace} is being deleted and still there after "
                f"{NAMESPACE_GONE_TIMEOUT:.0f}s; wait for it or pick another namespace"
            )
        existing = None
    if existing is not None:
        labels = existing["metadata"].get("labels") or {}
        enforced = labels.get(ENFORCE_LABEL, "")
        if labels.get(CREATED_BY_LABEL) == "subkube" and security.more_permissive(level, enforced):
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


async def check_host_definitions(host: Kube, sync: Sync) -> None:
    """Before anything is made on the host: the custom resources it must already serve."""
    if customresources.configured(sync):
        await customresources.check_host_definitions(host, sync)


async def owned(host: Kube, state: VClusterState, res: Resource) -> list[Obj]:
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


async def synced_resources(host: Kube, state: VClusterState) -> list[Resource]:
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


async def synced_counts(
    host: Kube, state: VClusterState, resources: list[Resource] | None = None
) -> dict[str, int]:
    """Host objects this vcluster owns, per kind: of RESOURCES, or of synced_resources."""
    if resources is None:
        resources = await synced_resources(host, state)
    return {res.plural: len(await owned(host, state, res)) for res in resources}


async def name_mapping(host: Kube, state: VClusterState) -> list[tuple[str, str, str]]:
    """(kind, virtual namespace/name, host name) of every synced object."""
    out = []
    for res in await synced_resources(host, state):
        for obj in await owned(host, state, res):
            key = names.virtual_key(obj)
            if key:
                out.append((res.kind, "/".join(k for k in key if k), obj["metadata"]["name"]))
    return sorted(out)


async def delete_cluster_objects(host: Kube, state: VClusterState) -> None:
    """Cluster-scoped copies have no owner for the garbage collector: delete them here."""
    for res in registry.to_host_resources():
        if res.namespaced:
            continue
        for obj in await owned(host, state, res):
            meta = obj["metadata"]
            await host.delete(res, meta["name"], uid=meta["uid"])


async def wait_collected(host: Kube, state: VClusterState) -> None:
    """Until the host's garbage collector has removed what this vcluster synced. A big
    vcluster takes it minutes, so only COLLECT_TIMEOUT without progress gives up."""
    # Read once: the config file and the host's CRDs do not change while it waits.
    resources = await synced_resources(host, state)
    left = -1
    loop = asyncio.get_running_loop()
    progressed = loop.time()
    while True:
        now = sum((await synced_counts(host, state, resources)).values())
        if not now:
            return
        if now != left:
            left, progressed = now, loop.time()
        elif loop.time() - progressed >= COLLECT_TIMEOUT:
            raise SubkubeError(
                f"the host's garbage collector has removed none of vcluster {state.name}'s "
                f"{left} objects left in {state.namespace} for {COLLECT_TIMEOUT:.0f}s; is "
                "its controller-manager running?"
            )
        await asyncio.sleep(COLLECT_EVERY * min(1 + now / 1000, 10))


async def delete_namespace_if_ours(host: Kube, namespace: str) -> bool:
    ns = await host.get_or_none(NAMESPACES, namespace)
    if ns is None or (ns["metadata"].get("labels") or {}).get(CREATED_BY_LABEL) != "subkube":
        return False
    await host.delete(NAMESPACES, namespace)
    return True
