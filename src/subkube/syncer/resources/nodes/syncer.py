"""Fake nodes: one Ready Node inside per host node that runs a tenant pod, kept alive with a
Lease, removed when no tenant pod (other than DaemonSet pods) is left on it."""

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Protocol

from subkube.aio import cancel_all
from subkube.binaries.pins import load_pins
from subkube.kube.informer import Informer
from subkube.kube.resource import LEASES, NODES, PODS
from subkube.kube.rest import TRANSIENT, ApiError, Kube, Obj
from subkube.log import kv
from subkube.syncer.resources.nodes import translate

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0


class Kubelets(Protocol):
    """Where the nodes inside say their kubelet is: the runner's endpoint, a port per node."""

    address: str

    async def port(self, node: str) -> int: ...


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeLoop:
    """Reconcile the nodes inside whenever one of the watched informers changes, and at
    least every heartbeat. The pods informer is the syncer's (started there); the others
    belong to this loop."""

    name = ""

    def __init__(self, pods: Informer, own: list[Informer]) -> None:
        self.pods = pods
        self.own = own
        self.changed = asyncio.Event()
        for informer in (pods, *own):
            informer.add_handler(lambda _t, _o: self.changed.set())
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks += [informer.start() for informer in self.own]
        await asyncio.gather(*(informer.synced.wait() for informer in self.own))
        self._tasks.append(asyncio.create_task(self._loop(), name=self.name))

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), HEARTBEAT_SECONDS)
            self.changed.clear()
            try:
                await self.reconcile()
            except (ApiError, *TRANSIENT) as exc:
                log.warning("node sync failed", extra=kv(loop=self.name, error=str(exc)))
                await asyncio.sleep(1)

    async def reconcile(self) -> None:
        raise NotImplementedError

    async def remove_node(self, virtual: Kube, name: str, uid: str | None = None) -> None:
        """Delete a node inside, its lease, and the DaemonSet pods bound to it."""
        await virtual.delete(NODES, name, uid=uid)
        await virtual.delete(LEASES, name, "kube-node-lease")
        for pod in translate.daemonset_pods_on(name, self.pods.items()):
            meta = pod["metadata"]
            await virtual.delete(
                PODS, meta["name"], meta["namespace"], grace_period=0, uid=meta["uid"]
            )


class FakeNodes(NodeLoop):
    name = "fake-nodes"

    def __init__(self, virtual: Kube, pods: Informer, kubelets: Kubelets) -> None:
        self.virtual = virtual
        self.kubelets = kubelets
        self.nodes = Informer(
            virtual,
            NODES,
            label_selector=f"{translate.FAKE_NODE_LABEL}=true",
            name="virtual-fake-nodes",
        )
        super().__init__(pods, [self.nodes])
        self.kubelet_version = load_pins().kubernetes.version

    async def reconcile(self) -> None:
        needed = translate.needed_nodes(self.pods.items())
        have = {n["metadata"]["name"] for n in self.nodes.items()}
        now = _now()
        address = self.kubelets.address
        for name in sorted(needed - have):
            port = await self.kubelets.port(name)
            node = translate.fake_node(
                name, now=now, kubelet_version=self.kubelet_version, address=address, port=port
            )
            try:
                created = await self.virtual.create(NODES, node)
                created["status"] = node["status"]
                await self.virtual.replace_status(NODES, created)
            except ApiError as exc:
                if not exc.already_exists:
                    raise
            log.info("fake node added", extra=kv(node=name))
        for name in sorted(have - needed):
            await self.remove_node(self.virtual, name)
            log.info("fake node removed", extra=kv(node=name))
        for name in sorted(needed & have):
            # The runner's kubelet port can change across restarts (a taken port).
            node = self.nodes.get("", name)
            port = await self.kubelets.port(name)
            if node is not None and translate.kubelet_differs(node, address, port):
                await self.virtual.patch(
                    NODES,
                    name,
                    {"status": translate.kubelet_status(address, port, name)},
                    subresource="status",
                )
        for name in sorted(needed):
            await self._renew(name, now)

    async def _renew(self, name: str, now: str) -> None:
        try:
            await self.virtual.patch(LEASES, name, {"spec": {"renewTime": now}}, "kube-node-lease")
        except ApiError as exc:
            if not exc.not_found:
                raise
            await self.virtual.create(LEASES, translate.lease(name, now=now), "kube-node-lease")


class HostNodes(NodeLoop):
    """sync.fromHost.nodes: copies of the real host nodes (all, those matching the selector's
    labels, or those running tenant pods), their status kept current. Labels, taints and
    unschedulable that a tenant sets go to the host node with syncBackChanges, else stay on
    the copy inside only, on top of what the host says."""

    name = "host-nodes"

    def __init__(
        self,
        host: Kube,
        virtual: Kube,
        pods: Informer,
        kubelets: Kubelets,
        *,
        all_nodes: bool,
        labels: dict[str, str],
        sync_back: bool,
    ) -> None:
        self.host_api = host
        self.virtual = virtual
        self.kubelets = kubelets
        self.all_nodes = all_nodes
        self.labels = labels
        self.sync_back = sync_back
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None
        self.host_nodes = Informer(host, NODES, label_selector=selector, name="host-nodes")
        self.nodes = Informer(virtual, NODES, name="virtual-nodes")
        super().__init__(pods, [self.host_nodes, self.nodes])

    async def reconcile(self) -> None:
        needed = translate.needed_host_nodes(
            self.host_nodes.items(),
            self.pods.items(),
            all_nodes=self.all_nodes,
            labels=self.labels,
        )
        for vnode in self.nodes.items():
            name = vnode["metadata"]["name"]
            labels = vnode["metadata"].get("labels") or {}
            # Fake nodes from an earlier configuration go too.
            ours = translate.HOST_NODE_LABEL in labels or translate.FAKE_NODE_LABEL in labels
            if ours and name not in needed:
                await self.remove_node(self.virtual, name, vnode["metadata"]["uid"])
                log.info("host node copy removed", extra=kv(node=name))
        for name in sorted(needed):
            hnode = self.host_nodes.get("", name)
            if hnode is not None:
                await self._sync(hnode, self.nodes.get("", name))

    async def _sync(self, hnode: Obj, vnode: Obj | None) -> None:
        name = hnode["metadata"]["name"]
        if vnode is not None and translate.HOST_NODE_LABEL not in (
            vnode["metadata"].get("labels") or {}
        ):
            if translate.FAKE_NODE_LABEL not in (vnode["metadata"].get("labels") or {}):
                return  # a tenant's own Node object: not ours to touch
            await self.virtual.delete(NODES, name, uid=vnode["metadata"]["uid"])
            vnode = None
        edits = translate.tenant_edits(vnode) if vnode is not None else None
        if edits and self.sync_back:
            hnode = await self.host_api.patch(NODES, name, edits)
            log.info("node change sent to the host", extra=kv(node=name))
            edits = None
        desired = translate.host_node_copy(
            hnode,
            address=self.kubelets.address,
            port=await self.kubelets.port(name),
            edits=edits,
        )
        if vnode is None:
            created = await self.virtual.create(NODES, {**desired, "status": {}})
            created["status"] = desired["status"]
            written = await self.virtual.replace_status(NODES, created)
            self.nodes.write_through(written, None)
            log.info("host node copied", extra=kv(node=name))
            return
        meta_changed, status_changed = translate.copy_differs(desired, vnode)
        if meta_changed:
            update = {**desired, "status": vnode.get("status", {})}
            update["metadata"] = {
                **desired["metadata"],
                "resourceVersion": vnode["metadata"]["resourceVersion"],
            }
            vnode = await self.virtual.replace(NODES, update)
        if status_changed:
            vnode["status"] = desired["status"]
            vnode = await self.virtual.replace_status(NODES, vnode)
