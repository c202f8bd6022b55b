"""The syncer of one vcluster: the kinds its config enables (from the registry), each on the
engine, started stage by stage over one shared informer cache; plus what the vcluster
needs inside before any tenant pod runs (its API Service, its DNS)."""

import asyncio
import logging
import time

from subkube.aio import poll_until
from subkube.config.model import Sync
from subkube.errors import SubkubeError
from subkube.kube.cache import InformerCache
from subkube.kube.resource import BY_PLURAL, SERVICEACCOUNTS, SERVICES
from subkube.kube.rest import ApiError, Kube
from subkube.log import kv
from subkube.syncer import registry
from subkube.syncer.context import SyncContext, owned_informer
from subkube.syncer.dns import coredns
from subkube.syncer.engine import Engine, Kind
from subkube.syncer.tohost import ToHost

log = logging.getLogger(__name__)


def list_host_copies(
    host: Kube, sync: Sync, *, host_namespace: str, vcluster: str
) -> InformerCache:
    """A cache with the informers of VCLUSTER's host copies started, for every namespaced
    kind SYNC copies to the host. A runner lists them while its control plane starts, and
    hands the cache to the syncer (SyncContext.prefetched): at 10,000 pods, the host's list
    takes seconds."""
    cache = InformerCache({"host": host})
    for res in registry.to_host_resources(sync):
        if res.namespaced:
            owned_informer(cache, res, host_namespace=host_namespace, vcluster=vcluster).start()
    return cache


class Manager:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        sync = ctx.sync
        registry.check_supported(sync)
        if not sync.toHost.services.enabled:
            raise SubkubeError(
                "sync.toHost.services cannot be disabled: the vcluster's DNS "
                "and every tenant Service need their host copy"
            )
        declared = [d for d in registry.enabled(sync) if d.kind is not None]
        ctx.to_host_kinds = {r.kind: r for r in registry.to_host_resources(sync)}
        ctx.referrers = [
            (d.kind.resource, d.kind.references)
            for d in declared
            if isinstance(d.kind, type)
            and issubclass(d.kind, ToHost)
            and d.kind.references is not ToHost.references
        ]
        self.stages: dict[int, list[Engine]] = {}
        for d in sorted(declared, key=lambda d: d.stage):
            self.stages.setdefault(d.stage, []).extend(Engine(k) for k in d.make(ctx))

    @property
    def kinds(self) -> list[Kind]:
        return [e.kind for engines in self.stages.values() for e in engines]

    @property
    def engines(self) -> list[Engine]:
        return [e for engines in self.stages.values() for e in engines]

    async def start(self) -> None:
        await self.ensure_default_service_account()
        # Every kind lists at once; a restarted syncer's lists of 10,000 pods on each side
        # took seconds each, one stage after the other.
        for engine in self.engines:
            await engine.prepare()
        for stage, engines in self.stages.items():
            await asyncio.gather(*(e.start() for e in engines))
            if stage == registry.SERVICES_FIRST:
                await self.ensure_api_service()
                await self.ensure_dns()
        log.info("syncer running", extra=kv(vcluster=self.ctx.vcluster))

    async def stop(self) -> None:
        for engine in reversed(self.engines):
            await engine.stop()
        await self.ctx.cache.stop()

    async def ensure_default_service_account(self) -> None:
        """Until `default/default` exists, every pod a tenant creates is refused. The
        controller-manager makes it a second or more after the API server is ready; made
        here as it would make it, a vcluster is ready without that wait, and the
        controller-manager finds it made."""
        try:
            await self.ctx.virtual.create(
                SERVICEACCOUNTS, {"metadata": {"name": "default"}}, "default"
            )
        except ApiError as exc:
            if not exc.already_exists:
                raise

    async def ensure_api_service(self) -> None:
        """Virtual default/kubernetes takes the ClusterIP of the vcluster's host Service, so
        tenant pods reach their own API at the address the virtual cluster advertises."""
        ip = self.ctx.api_service_ip
        want = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": ip,
                "clusterIPs": [ip],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
            },
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = await self.ctx.virtual.get_or_none(SERVICES, "kubernetes", "default")
            if current is not None and current["spec"].get("clusterIP") == ip:
                return
            if current is not None:
                await self.ctx.virtual.delete(
                    SERVICES, "kubernetes", "default", uid=current["metadata"]["uid"]
                )
            try:
                await self.ctx.virtual.create(SERVICES, want, "default")
            except ApiError as exc:
                # The API server re-creates its `kubernetes` Service on its own; try again.
                if not exc.conflict and exc.status != 422:
                    raise
                await asyncio.sleep(0.2)
        raise SubkubeError("could not give the virtual `kubernetes` Service the vcluster's IP")

    async def ensure_dns(self) -> None:
        for plural, obj in coredns.manifests(self.ctx.cluster_domain):
            res = BY_PLURAL[plural]
            try:
                await self.ctx.virtual.create(res, obj)
            except ApiError as exc:
                # 422 on the Service: it exists and its ClusterIP is being handed over by the
                # services kind (a restored store's IP that the host gave to another
                # vcluster, found taken), and the IP it is born with was allocated inside
                # first. The wait below sees the handover through.
                if not exc.already_exists and not (res is SERVICES and exc.status == 422):
                    raise

        async def reached_host() -> bool:
            virtual = self.ctx.cache.informer("virtual", SERVICES).get(
                coredns.NAMESPACE, coredns.SERVICE
            )
            host = self.ctx.owned(SERVICES).get(
                self.ctx.host_namespace, self.ctx.host_name(coredns.SERVICE, coredns.NAMESPACE)
            )
            if (
                virtual
                and host
                and virtual["spec"].get("clusterIP") == host["spec"].get("clusterIP")
            ):
                self.ctx.dns_service_ip = virtual["spec"]["clusterIP"]
                return True
            return False

        if not await poll_until(reached_host, 60, 0.2):
            raise SubkubeError("the vcluster's DNS Service never reached the host")
