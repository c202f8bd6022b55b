"""Async Kubernetes API clients (kubernetes_asyncio) built from kubeconfig files."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from kubernetes_asyncio import client, config

from subkube.errors import SubkubeError


async def api_client(
    kubeconfig: Path, context: str | None = None, pool_size: int | None = None
) -> client.ApiClient:
    """POOL_SIZE: at most that many requests at once (kubernetes_asyncio's default is a
    few per core)."""
    cfg = client.Configuration()
    try:
        await config.load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=cfg
        )
    except (OSError, config.ConfigException) as exc:
        raise SubkubeError(f"cannot load kubeconfig {kubeconfig}: {exc}") from exc
    if pool_size:
        cfg.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration=cfg)


@asynccontextmanager
async def connect(
    kubeconfig: Path, context: str | None = None, *, pool_size: int | None = None
) -> AsyncIterator[client.ApiClient]:
    api = await api_client(kubeconfig, context, pool_size)
    try:
        yield api
    finally:
        await api.close()
