"""The nodes inside: a Ready fake Node per host node that runs a tenant pod (kept alive
with a Lease), or, with sync.fromHost.nodes, copies of the real host nodes. A node goes when
no tenant pod but DaemonSet pods is left on it (unless every host node is shown), and its
DaemonSet pods with it. One key per node name."""

import datetime as dt
import logging
import time
from collections.abc import Iterable

from subkube.binaries.pins import load_pins
from subkube.kube.informer import Informer, Key
from subkube.kube.resource import LEASES, NODES, PODS, label_selector
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import engine
from subkube.syncer.context import Kubelets, SyncContext
from subkube.syncer.resources.nodes import translate

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
HOLDING = "holding-node"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeKind(engine.Kind):
    """What fake nodes and host-node copies share: the pods that hold a node, and what
    goes with a node removed inside."""

    workers = 2
    # Every node is looked at on each heartbeat: leases renewed, ports checked.
    resync_period = HEARTBEAT_SECONDS

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        assert ctx.kubelets is not None, "nodes inside need the kubelet endpoint"
        self.kubelets: Kubelets = ctx.kubelets

    def watch_pods(self) -> Informer:
        self.pods = self.ctx.cache.informer("virtual", PODS)
        self.pods.add_index(HOLDING, translate.holding_node)

        def on_pod(_event: str, pod: Obj) -> None:
            node = pod.get("spec", {}).get("nodeName")
            if node:
                self.enqueue(("", node))

        self.pods.add_handler(on_pod)
        return self.pods

    def on_node(self, _event: str, node: Obj) -> None:
        self.enqueue(("", node["metadata"]["name"]))

    def holds_pods(self, node: str) -> bool:
        return bool(self.pods.keys_by_index(HOLDING, node))

    async def remove_node(self, name: str, uid: str | None = None) -> None:
        """Delete a node inside, its lease, and the DaemonSet pods bound to it (as the pod
        garbage collector of a cluster removes pods of deleted nodes)."""
        virtual = self.ctx.virtual
        await virtual.delete(NODES, name, uid=uid)
        await virtual.delete(LEASES, name, "kube-node-lease")
        for pod in translate.daemonset_pods_on(name, self.pods.items()):
            meta = pod["metadata"]
            await virtual.delete(
                PODS, meta["name"], meta["namespace"], grace_period=0, uid=meta["uid"]
            )
        self.count("delete")


class FakeNodes(NodeKind):
    name = "fake-nodes"

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.kubelet_version = load_pins().kubernetes.version
        # Node -> when its lease was last renewed (monotonic): pod events come far more
        # often than a lease needs renewing.
        self._renewed: dict[str, float] = {}

    def watch(self) -> list[Informer]:
        self.nodes = self.ctx.cache.informer(
            "virtual", NODES, label_selector=f"{translate.FAKE_NODE_LABEL}=true"
        )
        self.nodes.add_handler(self.on_node)
        return [self.watch_pods(), self.nodes]

    def all_keys(self) -> Iterable[Key]:
        names = set(self.pods.index_values(HOLDING))
        names |= {n["metadata"]["name"] for n in self.nodes.items()}
        return [("", name) for name in sorted(names)]

    def synced_count(self) -> int:
        return len(self.nodes.cache)

    async def reconcile(self, key: Key) -> None:
        name = key[1]
        node = self.nodes.get("", name)
        if not self.holds_pods(name):
            if node is not None:
                await self.remove_node(name, node["metadata"]["uid"])
                self._renewed.pop(name, None)
                log.info("fake node removed", extra=kv(node=name))
            return
        address = self.kubelets.address
        port = await self.kubelets.port(name)
        now = _now()
        if node is None:
            await self._create(name, now, address, port)
        elif translate.kubelet_differs(node, address, port):
            # The runner's kubelet port can change across restarts (a taken port).
            await self.ctx.virtual.patch(
                NODES,
                name,
                {"status": translate.kubelet_status(address, port, name)},
                subresource="status",
            )
        if time.monotonic() - self._renewed.get(name, -HEARTBEAT_SECONDS) >= HEARTBEAT_SECONDS / 2:
            await self._renew(name, now)
            self._renewed[name] = time.monotonic()

    async def _create(self, name: str, now: str, address: str, port: int) -> None:
        node = translate.fake_node(
            name, now=now, kubelet_version=self.kubelet_version, address=address, port=port
        )
        try:
            created = await self.ctx.virtual.create(NODES, node)
            created["status"] = node["status"]
            written = await self.ctx.virtual.replace_status(NODES, created)
        except ApiError as exc:
            if not exc.already_exists:
                raise
            return
        self.nodes.write_through(written, None)
        self.count("create")
        log.info("fake node added", extra=kv(node=name))

    async def _renew(self, name: str, now: str) -> None:
        virtual = self.ctx.virtual
        try:
            await virtual.patch(LEASES, name, {"spec": {"renewTime": now}}, "kube-node-lease")
        except ApiError as exc:
            if not exc.not_found:
                raise
            await virtual.create(LEASES, translate.lease(name, now=now), "kube-node-lease")


class HostNodes(NodeKind):
    """sync.fromHost.nodes: copies of the real host nodes (all, those matching the selector's
    labels, or those running tenant pods), their status kept current. Labels, taints and
    unschedulable that a tenant sets go to the host node with syncBackChanges, else stay on
    the copy inside only, on top of what the host says."""

    name = "host-nodes"

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        node_sync = ctx.sync.fromHost.nodes
        # A scheduler inside can only place pods on nodes it sees.
        self.all_nodes = node_sync.selector.all or ctx.virtual_scheduler
        self.labels = node_sync.selector.labels
        self.sync_back = node_sync.syncBackChanges

    def watch(self) -> list[Informer]:
        selector = label_selector(self.labels) or None
        cache = self.ctx.cache
        self.host_nodes = cache.informer("host", NODES, label_selector=selector)
        self.nodes = cache.informer("virtual", NODES)
        for informer in (self.host_nodes, self.nodes):
            informer.add_handler(self.on_node)
        return [self.watch_pods(), self.host_nodes, self.nodes]

    def all_keys(self) -> Iterable[Key]:
        names = {n["metadata"]["name"] for n in self.host_nodes.items()}
        names |= {n["metadata"]["name"] for n in self.nodes.items()}
        return [("", name) for name in sorted(names)]

    def synced_count(self) -> int:
        return sum(
            1
            for n in self.nodes.items()
            if translate.HOST_NODE_LABEL in (n["metadata"].get("labels") or {})
        )

    async def reconcile(self, key: Key) -> None:
        name = key[1]
        hnode = self.host_nodes.get("", name)
        vnode = self.nodes.get("", name)
        if hnode is not None and translate.shows_host_node(
            hnode, holds_pods=self.holds_pods(name), all_nodes=self.all_nodes, labels=self.labels
        ):
            await self._sync(hnode, vnode)
            return
        if vnode is None:
            return
        labels = vnode["metadata"].get("labels") or {}
        # Fake nodes from an earlier configuration go too.
        if translate.HOST_NODE_LABEL in labels or translate.FAKE_NODE_LABEL in labels:
            await self.remove_node(name, vnode["metadata"]["uid"])
            log.info("host node copy removed", extra=kv(node=name))

    async def _sync(self, hnode: Obj, vnode: Obj | None) -> None:
        name = hnode["metadata"]["name"]
        if vnode is not None and translate.HOST_NODE_LABEL not in (
            vnode["metadata"].get("labels") or {}
        ):
            if translate.FAKE_NODE_LABEL not in (vnode["metadata"].get("labels") or {}):
                return  # a tenant's own Node object: not ours to touch
            await self.ctx.virtual.delete(NODES, name, uid=vnode["metadata"]["uid"])
            vnode = None
        edits = translate.tenant_edits(vnode) if vnode is not None else None
        if edits and self.sync_back:
            hnode = await self.ctx.host.patch(NODES, name, edits)
            log.info("node change sent to the host", extra=kv(node=name))
            edits = None
        desired = translate.host_node_copy(
            hnode,
            address=self.kubelets.address,
            port=await self.kubelets.port(name),
            edits=edits,
        )
        if vnode is None:
            created = await self.ctx.virtual.create(NODES, {**desired, "status": {}})
            created["status"] = desired["status"]
            written = await self.ctx.virtual.replace_status(NODES, created)
            self.nodes.write_through(written, None)
            self.count("create")
            log.info("host node copied", extra=kv(node=name))
            return
        meta_changed, status_changed = translate.copy_differs(desired, vnode)
        if meta_changed:
            update = {**desired, "status": vnode.get("status", {})}
            update["metadata"] = {
                **desired["metadata"],
                "resourceVersion": vnode["metadata"]["resourceVersion"],
            }
            vnode = await self.ctx.virtual.replace(NODES, update)
        if status_changed:
            vnode["status"] = desired["status"]
            vnode = await self.ctx.virtual.replace_status(NODES, vnode)
