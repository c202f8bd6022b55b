"""A Kubernetes control plane as supervised child processes: store, API server,
controller-manager and, for host clusters, the scheduler."""

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path
from types import TracebackType

from subkube.binaries.catalog import locate
from subkube.controlplane import apiserver, controller_manager, etcd, kine, kubeconfig, scheduler
from subkube.controlplane.health import ComponentFailed, wait_tcp, wait_until_healthy
from subkube.controlplane.pki import ADMIN, CONTROLLER_MANAGER, PKI, SCHEDULER, ensure_pki
from subkube.controlplane.ports import port_in_use
from subkube.controlplane.process import Process
from subkube.controlplane.spec import ControlPlaneSpec, assign_ports
from subkube.log import kv

log = logging.getLogger(__name__)

RESTART_LIMIT = 5


class ControlPlane:
    def __init__(self, spec: ControlPlaneSpec) -> None:
        self.spec = spec
        self.processes: list[Process] = []
        self.ports: dict[str, int] = {}
        self._pki: PKI | None = None
        # How to wait for a component that can be restarted (stopped()) to be healthy again.
        self._ready: dict[str, Callable[[], Awaitable[None]]] = {}
        # Held by the supervisor while it looks at and restarts crashed components, and by
        # stopped(), so a component stopped on purpose is not taken for a crashed one.
        self._lock = asyncio.Lock()

    @property
    def pki(self) -> PKI:
        assert self._pki is not None, "start() first"
        return self._pki

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        return self.spec.admin_kubeconfig

    @property
    def store_dir(self) -> Path | None:
        """Where the store it runs keeps its data; None when the store is elsewhere."""
        s = self.spec
        if s.store == "etcd":
            return None if s.etcd_endpoint else etcd.store_dir(s.data_dir)
        return None if s.kine_datasource else kine.db_path(s.data_dir).parent

    def component_kubeconfig(self, stem: str) -> Path:
        return self.spec.data_dir / f"{stem}.kubeconfig"

    async def __aenter__(self) -> "ControlPlane":
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _process(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        proc = Process(
            name, argv, self.spec.log_dir / f"{name}.log", env=env, cwd=self.spec.data_dir
        )
        self.processes.append(proc)
        return proc

    def _check_port(self, component: str, port: int, address: str = "127.0.0.1") -> None:
        if port_in_use(port, address):
            raise ComponentFailed(
                component,
                f"cannot start: port {port} on {address} is already "
                "in use (stop what holds it or choose another port)",
                "",
                str(self.spec.log_dir / f"{component}.log"),
            )

    async def start(self) -> None:
        """Start every component in order and wait for each to be healthy; on any failure stop
        what was started and raise an error naming the component."""
        await self.begin()
        await self.ready()

    async def begin(self) -> None:
        """Start every component in order, the API server ready before the others start;
        ready() waits for those. On a failure, as start()."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def ready(self) -> None:
        """Wait for the components begin() started after the API server to be healthy; on a
        failure, as start()."""
        try:
            await asyncio.gather(
                *(ready() for name, ready in self._ready.items() if name != "kube-apiserver")
            )
        except BaseException:
            await self.stop()
            raise
        log.info("control plane ready", extra=kv(name=self.spec.name, server=self.server))

    async def _start(self) -> None:
        s = self.spec
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = ports = assign_ports(s)
        self._pki = pki = await asyncio.to_thread(
            ensure_pki,
            s.pki_dir,
            service_cidr=s.service_cidr,
            cluster_domain=s.cluster_domain,
            extra_sans=s.extra_sans,
            runner_ips=s.runner_ips,
            peer_names=[s.replica.members[s.replica.name], s.replica.listen_ip]
            if s.replica
            else None,
            leaf_lifetime=s.leaf_lifetime,
        )
        self.write_kubeconfigs()
        timeout = s.startup_timeout

        store_url = f"http://127.0.0.1:{ports['store']}"
        if s.store == "kine":
            self._check_port("kine", ports["store"])
            self._check_port("kine", ports["store_metrics"])
            store = self._process(
                "kine",
                kine.argv(
                    locate("kine"),
                    s.data_dir,
                    ports["store"],
                    ports["store_metrics"],
                    s.kine_datasource,
                ),
                env=kine.env(s.kine_datasource),
            )
            (s.data_dir / "kine").mkdir(exist_ok=True)
            reachable = kine.database_check(store) if s.kine_datasource else None
            await store.start()
            try:
                await wait_tcp(store, "127.0.0.1", ports["store"], timeout=timeout, check=reachable)
            except ComponentFailed:
                # kine ignores SIGTERM while it retries its database, and has served nothing
                # yet: waiting out its grace would only delay the error.
                await store.stop(grace=0)
                raise
        elif s.etcd_endpoint:
            store_url = s.etcd_endpoint
        else:
            for key in ("store", "store_peer", "store_metrics"):
                self._check_port("etcd", ports[key])
            store = self._process(
                "etcd",
                etcd.argv(
                    locate("etcd"),
                    s.data_dir,
                    s.replica.name if s.replica else s.name,
                    ports["store"],
                    ports["store_peer"],
                    ports["store_metrics"],
                    self._etcd_cluster(),
                ),
            )
            await store.start()
            await wait_until_healthy(
                store, etcd.health_url(ports["store"]), timeout=timeout, expect='"health":"true"'
            )

        bind = s.apiserver_extra_args.get("bind-address", "127.0.0.1")
        self._check_port("kube-apiserver", ports["apiserver"], bind)
        api = self._process(
            "kube-apiserver",
            apiserver.argv(
                locate("kube-apiserver"),
                apiserver.flags(
                    pki=pki,
                    port=ports["apiserver"],
                    store_url=store_url,
                    service_cidr=s.service_cidr,
                    cluster_domain=s.cluster_domain,
                    extra={**s.etcd_tls, **s.apiserver_extra_args},
                ),
            ),
        )
        # The client context is made at each wait: after a CA rotation it trusts the new CA.
        self._ready[api.name] = lambda: wait_until_healthy(
            api, f"{self.server}/readyz", timeout=timeout, verify=self.ssl_context(client=True)
        )
        await api.start()
        await self._ready[api.name]()

        self._check_port("kube-controller-manager", ports["controller_manager"])
        kcm = self._process(
            "kube-controller-manager",
            apiserver.argv(
                locate("kube-controller-manager"),
                controller_manager.flags(
                    pki=pki,
                    kubeconfig=self.component_kubeconfig(CONTROLLER_MANAGER.file_stem),
                    port=ports["controller_manager"],
                    cert_dir=s.data_dir / "controller-manager",
                    service_cidr=s.service_cidr,
                    cluster_cidr=s.cluster_cidr,
                    controllers=s.controllers,
                    allocate_node_cidrs=s.allocate_node_cidrs,
                    leader_elect=s.replica is not None,
                    name=s.name,
                    extra=s.controller_manager_extra_args,
                ),
            ),
        )
        self._ready[kcm.name] = lambda: wait_until_healthy(
            kcm, controller_manager.health_url(ports["controller_manager"]), timeout=timeout
        )
        await kcm.start()
        if s.scheduler:
            self._check_port("kube-scheduler", ports["scheduler"])
            sched = self._process(
                "kube-scheduler",
                apiserver.argv(
                    locate("kube-scheduler"),
                    {
                        **scheduler.flags(
                            kubeconfig=self.component_kubeconfig(SCHEDULER.file_stem),
                            port=ports["scheduler"],
                            cert_dir=s.data_dir / "scheduler",
                            leader_elect=s.replica is not None,
                        ),
                        **s.scheduler_extra_args,
                    },
                ),
            )
            self._ready[sched.name] = lambda: wait_until_healthy(
                sched, scheduler.health_url(ports["scheduler"]), timeout=timeout
            )
            await sched.start()

    def _etcd_cluster(self) -> etcd.Cluster | None:
        replica = self.spec.replica
        if replica is None:
            return None
        return etcd.Cluster(
            members={name: etcd.member_url(host) for name, host in replica.members.items()},
            listen_ip=replica.listen_ip,
            token=replica.token,
            ca=self.pki.ca.cert,
            cert=self.pki.etcd_peer.cert,
            key=self.pki.etcd_peer.key,
        )

    def ssl_context(self, *, client: bool = False) -> ssl.SSLContext:
        """Trusts this control plane's CA; with CLIENT, also presents the admin certificate."""
        ctx = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        if client:
            admin = self.pki.client(ADMIN)
            ctx.load_cert_chain(str(admin.cert), str(admin.key))
        return ctx

    def write_kubeconfigs(self) -> None:
        """The admin's and the components' kubeconfigs, with the certificates on disk now."""
        pki = self.pki
        for who, path, server in (
            (ADMIN, self.kubeconfig, self.server),
            (ADMIN, self.spec.client_kubeconfig, self.spec.public_server or self.server),
            (
                CONTROLLER_MANAGER,
                self.component_kubeconfig(CONTROLLER_MANAGER.file_stem),
                self.server,
            ),
            (SCHEDULER, self.component_kubeconfig(SCHEDULER.file_stem), self.server),
        ):
            kubeconfig.write(
                path,
                kubeconfig.build(
                    server=server,
                    ca_cert=pki.ca.cert,
                    client=pki.client(who),
                    cluster=self.spec.name,
                    user=who.user,
                    context=self.spec.name,
                ),
            )

    def add_process(self, name: str, argv: list[str]) -> Process:
        """Supervise one more component (kwok on a host) alongside the control plane."""
        return self._process(name, argv)

    @contextlib.asynccontextmanager
    async def stopped(self, names: Collection[str]) -> AsyncIterator[None]:
        """The components NAMES stopped for the body (certificates change under them), then
        started again in order, each healthy before the next, with kubeconfigs written
        anew. Not if the body was cancelled: the whole control plane is stopping then."""
        procs = [p for p in self.processes if p.name in names]
        async with self._lock:
            for proc in reversed(procs):
                await proc.stop()
            try:
                yield
            finally:
                task = asyncio.current_task()
                if task is None or not task.cancelling():
                    self.write_kubeconfigs()
                    for proc in procs:
                        await proc.start()
                        await self._ready[proc.name]()

    async def supervise(
        self, stopping: asyncio.Event, on_restart: Callable[[], None] | None = None
    ) -> None:
        """Until STOPPING is set, restart crashed components with backoff; after
        RESTART_LIMIT crashes of one component, raise an error naming it. ON_RESTART is
        called whenever a component runs under a new pid (after a crash, or stopped())."""
        crashes: dict[str, int] = {}
        pids = [p.pid for p in self.processes]
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 2.0)
            async with self._lock:
                for proc in list(self.processes):
                    if proc.running or stopping.is_set():
                        continue
                    crashes[proc.name] = crashes.get(proc.name, 0) + 1
                    log.warning(
                        "component exited",
                        extra=kv(
                            component=proc.name, code=proc.returncode, crashes=crashes[proc.name]
                        ),
                    )
                    if crashes[proc.name] > RESTART_LIMIT:
                        raise ComponentFailed(
                            proc.name,
                            f"crashed {RESTART_LIMIT + 1} times",
                            proc.log_tail(),
                            str(proc.log_path),
                        )
                    await asyncio.sleep(min(2 ** crashes[proc.name], 30))
                    await proc.start()
            now = [p.pid for p in self.processes]
            if now != pids:
                pids = now
                if on_restart:
                    on_restart()

    async def stop(self) -> None:
        """Stop in reverse start order, so the store outlives its clients."""
        for proc in reversed(self.processes):
            await proc.stop()
        self.processes.clear()
