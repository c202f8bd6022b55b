"""Async Kubernetes API clients (kubernetes_asyncio) built from kubeconfig files."""

import asyncio
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from subkube.aio import cancel_all
from subkube.errors import SubkubeError
from subkube.kube import upstream
from subkube.kube.upstream import ConfigException, Configuration, load_kube_config, rest

# Longer than any request lasts (a watch ends after 300 s, its client gives it 30 s more):
# the connections made with a client's former credentials are closed after that.
RETIRE_AFTER = 360.0


async def _configuration(
    kubeconfig: Path, context: str | None, pool_size: int | None
) -> Configuration:
    cfg = Configuration()
    try:
        await load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=cfg
        )
    except (OSError, ConfigException) as exc:
        raise SubkubeError(f"cannot load kubeconfig {kubeconfig}: {exc}") from exc
    if pool_size:
        cfg.connection_pool_maxsize = pool_size
    cfg.proxy = cfg.proxy or _proxy_for(cfg.host)
    return cfg


def _proxy_for(server: str) -> str | None:
    """The proxy the environment names for SERVER (HTTPS_PROXY, NO_PROXY), as client-go
    honours them."""
    url = urllib.parse.urlsplit(server)
    if not url.hostname or urllib.request.proxy_bypass(url.hostname):
        return None
    return urllib.request.getproxies().get(url.scheme)


def _without_env(made: rest.RESTClientObject) -> rest.RESTClientObject:
    # kubernetes_asyncio has aiohttp trust the environment, which then reads ~/.netrc and
    # the proxy variables in a thread on every request: a tenth of the syncer's CPU in a
    # burst of pods. The proxy is read once, in _configuration, instead.
    made.pool_manager._trust_env = False
    return made


class ApiClient(upstream.ApiClient):
    """kubernetes_asyncio's client, which can take renewed credentials while it runs."""

    def __init__(self, configuration: Configuration, kubeconfig: Path, context: str | None) -> None:
        super().__init__(configuration=configuration)
        _without_env(self.rest_client)
        self.kubeconfig = kubeconfig
        self.context = context
        self._retiring: set[asyncio.Task[None]] = set()

    async def reconnect(self) -> None:
        """New requests go over new connections, made with what the kubeconfig holds now (a
        renewed client certificate, a new CA). Requests under way keep theirs: they were
        authenticated when they began, and a watch must not break for it."""
        fresh = await _configuration(
            self.kubeconfig, self.context, self.configuration.connection_pool_maxsize
        )
        old = self.rest_client
        self.configuration = fresh
        self.rest_client = _without_env(rest.RESTClientObject(fresh))
        task = asyncio.create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _retire(old: rest.RESTClientObject) -> None:
        try:
            await asyncio.sleep(RETIRE_AFTER)
        finally:
            await old.close()

    async def close(self) -> None:
        await cancel_all(list(self._retiring))
        await super().close()


async def api_client(
    kubeconfig: Path, context: str | None = None, pool_size: int | None = None
) -> ApiClient:
    """POOL_SIZE: at most that many requests at once (kubernetes_asyncio's default is a
    few per core)."""
    return ApiClient(await _configuration(kubeconfig, context, pool_size), kubeconfig, context)


@asynccontextmanager
async def connect(
    kubeconfig: Path, context: str | None = None, *, pool_size: int | None = None
) -> AsyncIterator[ApiClient]:
    api = await api_client(kubeconfig, context, pool_size)
    try:
        yield api
    finally:
        await api.close()
