"""The pods a scenario creates: Deployments spread over namespaces, made through the API."""

import asyncio
import time

from subkube.kube.resource import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SERVICEACCOUNTS
from subkube.kube.rest import ApiError, Kube, Obj

DEPLOYMENT = "load"


def deployment(namespace: str, replicas: int, name: str = DEPLOYMENT) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def shares(pods: int, namespaces: int) -> list[int]:
    """PODS split over NAMESPACES as evenly as can be."""
    return [pods // namespaces + (1 if i < pods % namespaces else 0) for i in range(namespaces)]


async def ensure_namespaces(kube: Kube, names: list[str]) -> None:
    for name in names:
        try:
            await kube.create(NAMESPACES, {"metadata": {"name": name}})
        except ApiError as exc:
            if not exc.conflict:
                raise


async def ready_namespace(kube: Kube, name: str, timeout: float = 120) -> None:
    """NAME made, with what its pods need from the controller-manager: the default
    ServiceAccount and the root CA ConfigMap."""
    await ensure_namespaces(kube, [name])
    deadline = time.monotonic() + timeout
    while not (
        await kube.get_or_none(SERVICEACCOUNTS, "default", name)
        and await kube.get_or_none(CONFIGMAPS, "kube-root-ca.crt", name)
    ):
        if time.monotonic() > deadline:
            raise SystemExit(f"namespace {name} never got its ServiceAccount and root CA")
        await asyncio.sleep(0.2)


async def spread(kube: Kube, pods: int, namespaces: list[str]) -> None:
    """Deployments totalling PODS replicas, one per namespace (made, or scaled to it)."""
    await ensure_namespaces(kube, namespaces)
    for namespace, replicas in zip(namespaces, shares(pods, len(namespaces)), strict=True):
        if await kube.get_or_none(DEPLOYMENTS, DEPLOYMENT, namespace) is None:
            await kube.create(DEPLOYMENTS, deployment(namespace, replicas), namespace)
        else:
            patch = {"spec": {"replicas": replicas}}
            await kube.patch(DEPLOYMENTS, DEPLOYMENT, patch, namespace)


async def remove_namespaces(kube: Kube, names: list[str], timeout: float = 900) -> None:
    """Delete NAMESPACES and wait until they are gone (their pods with them)."""
    for name in names:
        try:
            await kube.delete(NAMESPACES, name)
        except ApiError as exc:
            if not exc.not_found:
                raise
    deadline = time.monotonic() + timeout
    while any([await kube.get_or_none(NAMESPACES, n) for n in names]):
        if time.monotonic() > deadline:
            raise SystemExit(f"namespaces {', '.join(names)} still there after {timeout:.0f}s")
        await asyncio.sleep(2)
