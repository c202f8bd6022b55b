"""One vcluster: its virtual control plane and its syncer, against one host namespace."""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server

from subkube.aio import cancel_all
from subkube.config.model import Config
from subkube.config.schedule import parse_duration
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.ports import free_port, remembered_port
from subkube.controlplane.spec import ControlPlaneSpec, Replica
from subkube.errors import SubkubeError
from subkube.frontdoor.proxy import FrontDoor
from subkube.kube.cache import InformerCache
from subkube.kube.client import connect
from subkube.kube.informer import Informer
from subkube.kube.resource import BY_PLURAL, PODS
from subkube.kube.rest import Kube, Obj
from subkube.log import kv
from subkube.runner import hostside, hostwatch, leader, policies, replicas
from subkube.runner.admission import AdmissionWebhook
from subkube.runner.kubelet.server import KubeletEndpoint, kubelet_address
from subkube.runner.renewal import Renewer
from subkube.runner.storeguard import StoreGuard
from subkube.snapshot import pending
from subkube.snapshot.scheduled import ScheduledSnapshots
from subkube.syncer import metrics
from subkube.syncer.context import SyncContext
from subkube.syncer.dns import coredns
from subkube.syncer.manager import Manager, list_host_copies
from subkube.syncer.registry import taken_over
from subkube.syncer.resources.customresources.kind import check_host_definitions

log = logging.getLogger(__name__)

# Concurrent log streams to the host API (each `kubectl logs -f` holds one).
STREAM_CONNECTIONS = 256

# Controllers that act on nodes, volumes or cloud resources belong to the host: inside a
# vcluster they would fight it (evict pods from fake nodes, bind volumes nobody provides).
HOST_CONTROLLERS = (
    "node-ipam-controller",
    "node-lifecycle-controller",
    "node-route-controller",
    "cloud-node-lifecycle-controller",
    "service-lb-controller",
    "taint-eviction-controller",
    "device-taint-eviction-controller",
    "pod-garbage-collector-controller",
    "ttl-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-attach-detach-controller",
    "persistentvolume-expander-controller",
)


# The tenant's controller-manager talks only to the tenant's own API server: upstream's client
# limit (20 requests/s) would make a Deployment of 1,000 pods take 50 s to create inside,
# whatever the host can do. The syncer, not this client, is what meters the host.
VIRTUAL_CONTROLLER_MANAGER = {
    "kube-api-qps": "400",
    "kube-api-burst": "800",
    "concurrent-deployment-syncs": "20",
    "concurrent-replicaset-syncs": "20",
}


def virtual_controllers(config: Config) -> list[str]:
    """Every default controller but the host's, and those a synced kind takes over."""
    return ["*", *(f"-{c}" for c in (*HOST_CONTROLLERS, *taken_over(config.sync)))]


def virtual_apiserver_args(pki_dir: Path) -> dict[str, str]:
    """What a vcluster's API server needs beyond a plain one's flags."""
    return {
        # Kubelets are the runner's endpoint: trusted only through the vcluster's CA, so a
        # node a tenant points elsewhere reaches nothing.
        "kubelet-certificate-authority": str(pki_dir / "ca.crt"),
        # Nodes inside are Ready when made and no node controller runs to lift the
        # not-ready taint this plugin puts on every new node.
        "disable-admission-plugins": "TaintNodesByCondition",
    }


def public_address(data_dir: Path) -> tuple[str, int]:
    """The front door of a vcluster run here: loopback, at the same port across restarts
    (kubeconfigs name it). One made before there was a front door keeps its API server's."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "api-port"
    if not path.exists():
        with contextlib.suppress(OSError, ValueError, KeyError):
            ports = json.loads((data_dir / "controlplane" / "ports.json").read_text())
            path.write_text(str(int(ports["apiserver"])))
    return "127.0.0.1", remembered_port(path)


def store_of(config: Config) -> dict[str, Any]:
    """The ControlPlaneSpec fields for the configured backing store."""
    backing = config.controlPlane.backingStore
    chosen = backing.chosen
    # Replicas cannot share SQLite files: by default they share an embedded etcd cluster.
    if chosen == "etcd.embedded" or (config.highly_available and not backing.chosen_all()):
        return {"store": "etcd"}
    if chosen == "database.external":
        return {"store": "kine", "kine_datasource": backing.database.external.dataSource}
    if chosen == "etcd.external":
        ext = backing.etcd.external
        tls = {}
        for key, flag in (("caFile", "cafile"), ("certFile", "certfile"), ("keyFile", "keyfile")):
            path = getattr(ext, key)
            if path and not Path(path).is_file():
                raise SubkubeError(
                    f"controlPlane.backingStore.etcd.external.{key}: no file at {path}"
                )
            if path:
                tls[f"etcd-{flag}"] = path
        return {"store": "etcd", "etcd_endpoint": ext.endpoint, "etcd_tls": tls}
    return {"store": "kine"}


@dataclass
class VClusterConfig:
    name: str
    host_namespace: str
    host_kubeconfig: Path
    data_dir: Path
    host_context: str | None = None
    config: Config = field(default_factory=Config)
    startup_timeout: float = 120.0
    # In a pod: the front door (the virtual API's address) listens on all interfaces at this
    # port, and the API server advertises this IP. Else: loopback, at a port kept in data_dir.
    listen_port: int = 0
    bind_address: str = "0.0.0.0"
    advertise_address: str = ""
    # In a pod: publish the admin kubeconfig as this host Secret, for `subkube connect`.
    kubeconfig_secret: str = ""
    # The chart renders the host-side policies itself (and its Role may not write them).
    apply_host_policies: bool = True


class VCluster:
    def __init__(self, config: VClusterConfig) -> None:
        self.config = config
        self.stack = AsyncExitStack()
        self.control_plane: ControlPlane | None = None
        self.syncer: Manager | None = None
        self.metrics_port = 0
        self.frontdoor: FrontDoor | None = None
        # What the replica holding the Lease runs (every one, without replicas).
        self.lead_stack = AsyncExitStack()
        self.kubelet: KubeletEndpoint | None = None
        self.webhook: AdmissionWebhook | None = None
        self.elector: leader.Elector | None = None
        self.leading: asyncio.Task[None] | None = None
        self.watching_host: asyncio.Task[str] | None = None
        self.prefetched: InformerCache | None = None
        # Set by start(), for what the leader starts later.
        self.host: Kube
        self.owner: Obj
        self.virtual: Kube
        self.streams_api: Any
        self.kubelet_ip = ""

    @property
    def server(self) -> str:
        """The address clients are given: the front door."""
        assert self.frontdoor is not None, "start() first"
        return f"https://127.0.0.1:{self.frontdoor.port}"

    @property
    def kubeconfig(self) -> Path:
        """The admin's kubeconfig for clients: through the front door."""
        assert self.control_plane is not None, "start() first"
        return self.control_plane.spec.client_kubeconfig

    async def start(self) -> None:
        c = self.config
        try:
            # Listening first: clients that come while the control plane starts (the one
            # that woke it, above all) wait to be served instead of being refused.
            self.frontdoor = door = FrontDoor.adopt() or FrontDoor.bind(
                *((c.bind_address, c.listen_port) if c.listen_port else public_address(c.data_dir))
            )
            self.stack.push_async_callback(door.stop)
            await door.start()
            host_api = await self.stack.enter_async_context(
                connect(c.host_kubeconfig, c.host_context)
            )
            self.host = host = Kube(host_api)
            await check_host_definitions(host, c.config.sync)
            self.owner = owner = await hostside.ensure_host_objects(host, c.host_namespace, c.name)
            replica = self._replica()
            if replica is None:
                # The host's copies list while the control plane starts: the syncer finds
                # them cached. A replica lists once it leads.
                self.prefetched = list_host_copies(
                    host, c.config.sync, host_namespace=c.host_namespace, vcluster=c.name
                )
                self.stack.push_async_callback(self.prefetched.stop)
            self._follow_dns_pods(door)
            self.watching_host = watching = asyncio.create_task(
                hostwatch.lost(
                    host, c.host_namespace, c.name, c.config.controlPlane.advanced.host_grace
                ),
                name="host-watch",
            )
            self.stack.push_async_callback(cancel_all, [watching])
            net = c.config.networking
            cidr = net.serviceCIDR or await hostside.discover_service_cidr(host, c.host_namespace)
            api_ip = owner["spec"]["clusterIP"]
            if c.apply_host_policies:
                await self._apply_host_policies(host, owner)
            pod_security = c.config.policies.podSecurityStandard
            path = policies.admission_config(pod_security, c.data_dir / "admission.yaml")
            admission = {"admission-control-config-file": str(path)}
            data_dir = c.data_dir / "controlplane"
            self.kubelet_ip = kubelet_address()
            virtual_scheduler = c.config.controlPlane.advanced.virtualScheduler.enabled
            if replica is not None:
                await replicas.share_pki(host, c.host_namespace, c.name, data_dir / "pki", owner)
            spec = ControlPlaneSpec(
                name=c.name,
                data_dir=data_dir,
                **store_of(c.config),
                service_cidr=cidr,
                cluster_domain=net.clusterDomain,
                scheduler=virtual_scheduler,
                runner_ips=[self.kubelet_ip],
                leaf_lifetime=parse_duration(
                    c.config.controlPlane.advanced.certificates.leafLifetime
                ),
                apiserver_extra_args={
                    **self._listen_args(),
                    **virtual_apiserver_args(data_dir / "pki"),
                    **admission,
                    **c.config.controlPlane.apiServer.as_dict(),
                },
                public_server=self.server,
                controller_manager_extra_args={
                    **VIRTUAL_CONTROLLER_MANAGER,
                    **c.config.controlPlane.controllerManager.as_dict(),
                },
                controllers=virtual_controllers(c.config),
                allocate_node_cidrs=False,
                extra_sans=[
                    api_ip,
                    *([c.advertise_address] if c.advertise_address else []),
                    c.name,
                    f"{c.name}.{c.host_namespace}",
                    f"{c.name}.{c.host_namespace}.svc",
                ],
                startup_timeout=c.startup_timeout,
                replica=replica,
            )
            # A restore staged by the CLI or `subkube inpod restore` (snapshot/pending.py).
            await pending.apply(spec)
            self.control_plane = cp = ControlPlane(spec)
            self.stack.push_async_callback(cp.stop)
            # The controller-manager gets healthy while the webhook and the syncer start:
            # neither needs it, so ready() is awaited only once they are up.
            await cp.begin()
            virtual_api = await self.stack.enter_async_context(
                connect(self.control_plane.kubeconfig)
            )
            self.virtual = Kube(virtual_api)
            await self._publish_kubeconfig()
            # Streams of logs and exec get their own connections to the host: a `logs -f`
            # held open must never take one the syncer needs.
            self.streams_api = await self.stack.enter_async_context(
                connect(c.host_kubeconfig, c.host_context, pool_size=STREAM_CONNECTIONS)
            )
            self.stack.push_async_callback(self._step_down)
            if replica is None:
                await self._lead(before_sync=lambda: door.open(cp.ports["apiserver"]))
            else:
                # Every replica serves the API; one syncs, and the others stand by for it.
                door.open(cp.ports["apiserver"])
                self.elector = leader.Elector(
                    host, c.host_namespace, leader.lease_name(c.name), replica.name, owner
                )
                self.leading = asyncio.create_task(self._contend(), name="leader-election")

            async def take_new_certificates(ca: bool) -> None:
                # The API server reads its own from disk; the controller-manager restarted.
                await virtual_api.reconnect()
                if self.kubelet is not None:
                    await self.kubelet.renew(ca_changed=ca)
                if self.webhook is not None:
                    await self.webhook.renew(self.virtual)
                await self._publish_kubeconfig()
                if not ca and self.kubelet is not None:
                    # A restarted API server starts with its new certificates.
                    await self.kubelet.prime(self.virtual)

            renewer = Renewer(cp, spec.leaf_lifetime, c.data_dir, take_new_certificates)
            renewing = asyncio.create_task(renewer.run(), name="certificates")
            self.stack.push_async_callback(cancel_all, [renewing])
            self.metrics_port = free_port()
            server, _ = start_http_server(
                self.metrics_port, addr="127.0.0.1", registry=metrics.REGISTRY
            )
            self.stack.callback(server.shutdown)
            await cp.ready()
            log.info(
                "vcluster running",
                extra=kv(name=c.name, namespace=c.host_namespace, server=self.server),
            )
        except BaseException:
            await self.stack.aclose()
            raise

    async def lost(self) -> str:
        """Return, once it is so, why this vcluster has no host left (hostwatch)."""
        assert self.watching_host is not None, "start() first"
        return await self.watching_host

    def _follow_dns_pods(self, door: FrontDoor) -> None:
        """The vcluster's DNS pods talk to its API as any client, but for subkube: DOOR must
        not take that for a tenant's activity. A watch of those pods only, on every replica,
        since the syncer's cache of every host pod may list before anyone could follow it."""
        c = self.config
        pods = Informer(
            self.host,
            PODS,
            namespace=c.host_namespace,
            label_selector=coredns.host_selector(c.name),
            name="dns-pods",
        )
        pods.add_handler(
            lambda event, pod: door.quiet(
                pod["metadata"]["uid"], None if event == "DELETED" else coredns.host_ip(pod)
            )
        )
        pods.start()
        self.stack.push_async_callback(pods.stop)

    def _replica(self) -> Replica | None:
        """Who this pod is among the replicas, when there are several."""
        c = self.config
        if not c.config.highly_available:
            return None
        return replicas.replica(
            c.name,
            c.host_namespace,
            c.config.controlPlane.highAvailability.replicas,
            os.environ.get("POD_NAME", ""),
            c.advertise_address,
        )

    async def _publish_kubeconfig(self) -> None:
        c = self.config
        if c.kubeconfig_secret:
            assert self.control_plane is not None
            admin = self.control_plane.kubeconfig.read_text()
            await hostside.publish_kubeconfig(
                self.host, c.kubeconfig_secret, c.host_namespace, admin, self.owner
            )

    async def _contend(self) -> None:
        """Stand by until this replica holds the Lease, sync while it does, and stand by
        again once it lost it."""
        assert self.elector is not None
        while True:
            await self.elector.acquire()
            try:
                await self._lead()
                await self.elector.hold()
            except Exception as exc:  # another replica may do better
                log.error("leading failed", extra=kv(error=str(exc) or type(exc).__name__))
                await self.elector.release()
                await asyncio.sleep(leader.RETRY)
            finally:
                await self._step_down()

    async def _lead(self, before_sync: Callable[[], None] | None = None) -> None:
        """Start what one replica does for all: the syncer, the kubelet endpoint the nodes
        inside name, the admission webhook, scheduled snapshots. BEFORE_SYNC runs once the
        webhook is registered."""
        c = self.config
        assert self.control_plane is not None
        stack = self.lead_stack
        ctx = SyncContext(
            vcluster=c.name,
            host_namespace=c.host_namespace,
            owner_service=self.owner,
            virtual=self.virtual,
            host=self.host,
            cluster_domain=c.config.networking.clusterDomain,
            workload_service_account=hostside.workload_service_account(c.name),
            sync=c.config.sync,
            pod_security=c.config.policies.podSecurityStandard,
            virtual_scheduler=c.config.controlPlane.advanced.virtualScheduler.enabled,
            prefetched=self.prefetched,
        )
        self.prefetched = None
        self.kubelet = kubelet = KubeletEndpoint(
            address=self.kubelet_ip,
            pki=self.control_plane.pki,
            host_api=self.streams_api,
            host_namespace=c.host_namespace,
            vcluster=c.name,
            ports_dir=c.data_dir / "kubelet-ports",
        )
        stack.push_async_callback(kubelet.stop)
        ctx.kubelets = kubelet
        self.syncer = Manager(ctx)
        kubelet.serve_pods(ctx.owned(PODS))
        self.webhook = webhook = AdmissionWebhook(
            self.control_plane.pki, c.data_dir / "webhook-port"
        )
        stack.push_async_callback(webhook.stop)
        await webhook.start(self.virtual, self.syncer.kinds)
        # Tenants are served from here on: the API answers and admits as it should. The
        # syncer starting next only makes their pods run.
        if before_sync is not None:
            before_sync()
        stack.push_async_callback(self.syncer.stop)
        await self.syncer.start()
        if self.control_plane.store_dir is not None:
            guard = StoreGuard(self.virtual, self.control_plane.store_dir)
            guarding = asyncio.create_task(guard.run(), name="store-guard")
            stack.push_async_callback(cancel_all, [guarding])
        if c.config.snapshots.schedule:
            scheduled = ScheduledSnapshots(
                self.control_plane.spec.data_dir,
                c.config,
                vcluster=c.name,
                namespace=c.host_namespace,
            )
            stack.push_async_callback(scheduled.stop)
            scheduled.start()

    async def _step_down(self) -> None:
        await self.lead_stack.aclose()
        self.kubelet = self.webhook = self.syncer = None

    async def _apply_host_policies(self, host: Kube, owner: Obj) -> None:
        c = self.config
        for plural, obj in policies.host_objects(
            c.config.policies, vcluster=c.name, namespace=c.host_namespace, owner=owner
        ):
            await host.apply(BY_PLURAL[plural], obj)

    def _listen_args(self) -> dict[str, str]:
        # The API server itself stays on loopback, behind the front door.
        c = self.config
        return {"advertise-address": c.advertise_address} if c.advertise_address else {}

    async def stop(self) -> None:
        if self.leading is not None:
            await cancel_all([self.leading])
            self.leading = None
        await self._step_down()
        if self.elector is not None:
            # While the host connection is still open; a standby takes over at once.
            await self.elector.release()
        await self.stack.aclose()
