"""The syncer of one vcluster: every kind's engine, fake nodes, DNS and the API service."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from subkube.config.model import Sync
from subkube.errors import SubkubeError
from subkube.kube.informer import Informer
from subkube.kube.resource import BY_PLURAL, SERVICEACCOUNTS, SERVICES
from subkube.kube.rest import ApiError
from subkube.log import kv
from subkube.syncer.context import SyncContext
from subkube.syncer.dns import coredns
from subkube.syncer.engine import Kind, KindEngine
from subkube.syncer.references import ReferenceIndex
from subkube.syncer.registry import unsupported
from subkube.syncer.resources.configmaps.syncer import ConfigMaps
from subkube.syncer.resources.endpoints.syncer import Endpoints
from subkube.syncer.resources.events.syncer import HostEvents
from subkube.syncer.resources.hostclasses.syncer import CLASSES, HostClassMirror
from subkube.syncer.resources.networkpolicies.syncer import NetworkPolicies
from subkube.syncer.resources.nodes.syncer import FakeNodes, HostNodes, Kubelets
from subkube.syncer.resources.persistentvolumeclaims.syncer import PersistentVolumeClaims
from subkube.syncer.resources.pods.syncer import Pods
from subkube.syncer.resources.secrets.syncer import Secrets
from subkube.syncer.resources.services.syncer import Services

log = logging.getLogger(__name__)


class Syncer:
    def __init__(
        self,
        ctx: SyncContext,
        kubelets: Kubelets,
        sync: Sync | None = None,
        *,
        pod_security: str = "baseline",
        virtual_scheduler: bool = False,
        workers: int = 10,
    ) -> None:
        """KUBELETS: where nodes inside say their kubelet is; POD_SECURITY: the Pod Security
        Standard no host pod may break; VIRTUAL_SCHEDULER: a scheduler inside places pods
        on the copies of all host nodes."""
        self.ctx = ctx
        self.sync = sync or Sync()
        missing = unsupported(self.sync)
        if missing:
            raise SubkubeError(f"{', '.join(missing)}: not supported yet; disable it")
        if not self.sync.toHost.services.enabled:
            raise SubkubeError(
                "sync.toHost.services cannot be disabled: the vcluster's DNS "
                "and every tenant Service need their host copy"
            )
        to_host = self.sync.toHost
        self.refs = ReferenceIndex()
        self.services = KindEngine(Services(ctx))
        self.engines = [self.services]
        self.endpoints = self._maybe(
            to_host.endpoints.enabled, lambda: Endpoints(ctx, self.services.virtual)
        )
        self.configmaps = self._maybe(
            to_host.configMaps.enabled,
            lambda: ConfigMaps(ctx, self.refs, sync_all=to_host.configMaps.all),
        )
        self.secrets = self._maybe(
            to_host.secrets.enabled, lambda: Secrets(ctx, self.refs, sync_all=to_host.secrets.all)
        )
        self.pvcs = self._maybe(
            to_host.persistentVolumeClaims.enabled, lambda: PersistentVolumeClaims(ctx)
        )
        self.namespaces: Informer | None = None
        self.netpols = self._maybe(to_host.networkPolicies.enabled, lambda: NetworkPolicies(ctx))
        if self.netpols is not None:
            netpols = self.netpols
            self.namespaces = cast(NetworkPolicies, netpols.kind).namespaces
            # A namespace's labels decide which namespaceSelectors match it.
            self.namespaces.add_handler(lambda _t, _o: netpols.enqueue_all())
        self.pods = self._maybe(
            to_host.pods.enabled,
            lambda: Pods(
                ctx,
                self.services.virtual,
                self.secrets.host if self.secrets else None,
                keep_priority_class=self.sync.fromHost.priorityClasses.enabled,
                node_selector=(
                    self.sync.fromHost.nodes.selector.labels
                    if self.sync.fromHost.nodes.enabled
                    else {}
                ),
                virtual_scheduler=virtual_scheduler,
                pod_security=pod_security,
            ),
        )
        for engine in self.engines:
            engine.kind.workers = workers
        if self.endpoints is not None:
            endpoints = self.endpoints
            # A Service gaining or losing its selector changes whether its Endpoints sync.
            self.services.virtual.add_handler(
                lambda _t, svc: endpoints.queue.add(
                    (svc["metadata"].get("namespace", ""), svc["metadata"]["name"])
                )
            )
        self.nodes: FakeNodes | HostNodes | None = None
        node_sync = self.sync.fromHost.nodes
        if self.pods is not None:
            self.pods.virtual.add_handler(self.refs.on_pod)
            self.refs.listeners.append(self._referenced_changed)
            self.nodes = (
                HostNodes(
                    ctx.host,
                    ctx.virtual,
                    self.pods.virtual,
                    kubelets,
                    # A scheduler inside can only place pods on nodes it sees.
                    all_nodes=node_sync.selector.all or virtual_scheduler,
                    labels=node_sync.selector.labels,
                    sync_back=node_sync.syncBackChanges,
                )
                if node_sync.enabled
                else FakeNodes(ctx.virtual, self.pods.virtual, kubelets)
            )
        self.classes = [
            HostClassMirror(ctx.host, ctx.virtual, resource)
            for key, resource in CLASSES.items()
            if getattr(self.sync.fromHost, key).enabled
        ]
        self.events = (
            HostEvents(ctx, {e.kind.resource.kind: e.host for e in self.engines})
            if self.sync.fromHost.events.enabled
            else None
        )

    def _maybe(self, enabled: bool, make: Callable[[], Kind]) -> KindEngine | None:
        if not enabled:
            return None
        engine = KindEngine(make())
        self.engines.append(engine)
        return engine

    def _referenced_changed(self, plural: str, namespace: str, name: str) -> None:
        engine = {"configmaps": self.configmaps, "secrets": self.secrets}.get(plural)
        if engine is not None:
            engine.queue.add((namespace, name))

    async def start(self) -> None:
        await self.wait_default_service_account()
        await self.services.start()
        await self.ensure_api_service()
        await self.ensure_dns()
        if self.namespaces is not None:
            self.namespaces.start()
            await self.namespaces.synced.wait()
        # Referenced objects first, so a pod's ConfigMaps are on the host before the pod;
        # policies before pods, so no pod runs unprotected.
        first = [
            e for e in (self.configmaps, self.secrets, self.endpoints, self.pvcs, self.netpols) if e
        ]
        # Classes before pods: a pod naming a host PriorityClass needs it inside first.
        await asyncio.gather(*(e.start() for e in first), *(c.start() for c in self.classes))
        if self.pods is not None:
            await self.pods.start()
        await asyncio.gather(*(c.start() for c in (self.nodes, self.events) if c))
        log.info("syncer running", extra=kv(vcluster=self.ctx.vcluster))

    async def stop(self) -> None:
        for component in (self.events, self.nodes, *self.classes):
            if component is not None:
                await component.stop()
        for engine in reversed(self.engines):
            await engine.stop()
        if self.namespaces is not None:
            await self.namespaces.stop()

    async def wait_default_service_account(self, timeout: float = 60) -> None:
        """Until the controller-manager made `default/default`, every pod a tenant creates
        is refused; a vcluster is not ready before that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.ctx.virtual.get_or_none(SERVICEACCOUNTS, "default", "default"):
                return
            await asyncio.sleep(0.2)
        raise SubkubeError(
            "the virtual controller-manager did not create the default ServiceAccount; see its log"
        )

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
                if not exc.already_exists:
                    raise
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            virtual = self.services.virtual.get(coredns.NAMESPACE, coredns.SERVICE)
            host = self.services.host.get(
                self.ctx.host_namespace, self.ctx.host_name(coredns.SERVICE, coredns.NAMESPACE)
            )
            if (
                virtual
                and host
                and virtual["spec"].get("clusterIP") == host["spec"].get("clusterIP")
            ):
                self.ctx.dns_service_ip = virtual["spec"]["clusterIP"]
                return
            await asyncio.sleep(0.2)
        raise SubkubeError("the vcluster's DNS Service never reached the host")
