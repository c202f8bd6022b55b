"""The generic two-sided reconcile loop.

For each key (virtual namespace, name):
  - virtual exists, host missing      -> create the host object
  - both exist                        -> update host from virtual, copy status host -> virtual
  - host exists, virtual gone, ours   -> delete the host object
  - host records another virtual UID  -> stale: delete it, then create anew
A kind (see syncer/resources/*/syncer.py) says which resource, which translate functions,
and the few hooks where it differs; everything else lives here.
"""

import asyncio
import copy
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from subkube.aio import cancel_all
from subkube.kube.informer import Informer, Key
from subkube.kube.resource import Resource
from subkube.kube.rest import TRANSIENT, ApiError, Obj
from subkube.kube.workqueue import WorkQueue, process
from subkube.log import kv
from subkube.syncer import merge, metrics, names
from subkube.syncer.context import SyncContext

log = logging.getLogger(__name__)

# How long a host object made at admission waits for its virtual object before it is taken
# for the leftover of a create the virtual API server refused after admission.
PENDING_GRACE = 30.0


@dataclass
class Admission:
    """A kind's answer to the virtual API server admitting one of its objects."""

    allowed: bool = True
    patch: list[Obj] = field(default_factory=list)
    code: int = 200
    message: str = ""


class Kind:
    """One synced kind. Subclasses set `resource` and implement `to_host`."""

    name = ""
    resource: Resource
    workers = 10
    # Top-level fields of the host object that we own and put back when others edit them.
    owned_fields: tuple[str, ...] = ()

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    def wanted(self, vobj: Obj) -> bool:
        """Whether this virtual object should exist on the host."""
        return True

    # The kind's pure translate module: to_host(vobj, *, vcluster, host_namespace, owner).
    translate: Any = None

    def to_host(self, vobj: Obj) -> Obj:
        return self.translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,  # type: ignore[no-any-return]
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
        )

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        """A merge patch for the host object, or None when it already matches."""
        patch: Obj = {}
        for f in self.owned_fields:
            if desired.get(f) != actual.get(f):
                patch[f] = desired.get(f)
        return patch or None

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        """What flows back to the virtual object (status), as a full object to PUT, or None."""
        return None

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        """Copy what flows host -> virtual; returns the written virtual object, if any.

        A merge patch of the status, not a PUT: the virtual object changes under us all the
        time (controllers, kubectl), and status needs no resourceVersion to be right."""
        update = self.virtual_update(vobj, hobj)
        if update is None:
            return None
        patch = merge.merge_patch(vobj.get("status") or {}, update.get("status") or {})
        meta = vobj["metadata"]
        return await self.ctx.virtual.patch(
            self.resource,
            meta["name"],
            {"status": patch},
            meta.get("namespace"),
            subresource="status",
        )

    async def create_host(self, desired: Obj) -> Obj:
        return await self.ctx.host.create(self.resource, desired, self.ctx.host_namespace)

    async def after_create(self, vobj: Obj, created: Obj) -> None:
        """Right after the host object was created (pods attach their token Secret)."""

    async def after_update(self, vobj: Obj, hobj: Obj) -> None:
        """After every reconcile where both sides exist (pods refresh tokens)."""

    def requeue_after(self, key: tuple[str, str], delay: float) -> None:
        """Set by the engine: reconcile KEY again after DELAY seconds."""

    async def prepare(self, vobj: Obj, desired: Obj) -> Obj:
        """Last step before create (pods mint tokens here)."""
        return desired

    async def refuse(self, vobj: Obj) -> bool:
        """Whether the host copy of VOBJ must not be made (the kind has told the tenant
        why). Not an error: nothing retries until the virtual object changes."""
        return False

    async def host_missing(self, vobj: Obj) -> bool:
        """The host object is gone although the virtual one exists. True: handled here,
        do not recreate (pods: the host deleted the pod, so the virtual pod goes too)."""
        return False

    async def virtual_deleting(self, vobj: Obj, hobj: Obj | None) -> bool:
        """The virtual object has a deletionTimestamp. True: handled (skip normal sync)."""
        return False

    async def virtual_gone(self, key: tuple[str, str], hobj: Obj | None) -> None:
        """The virtual object is gone (HOBJ: its host copy, just deleted, if it had one)."""

    def adoptable(self, vobj: Obj, hobj: Obj) -> bool:
        """Whether a host object made at admission (recorded UID pending) is VOBJ's copy."""
        return False

    async def admit(self, request: Obj) -> Admission:
        """A create of this kind, before the virtual API server stores it (the runner's
        admission webhook calls this for kinds that declare `admitted`)."""
        return Admission()

    # Whether the runner's admission webhook sends this kind's creates to `admit`.
    admitted = False


class KindEngine:
    def __init__(self, kind: Kind, *, resync_period: float = 300.0) -> None:
        self.kind = kind
        self.ctx = kind.ctx
        self.resync_period = resync_period
        self.queue: WorkQueue[Key] = WorkQueue()
        labels = {"vcluster": self.ctx.vcluster, "kind": kind.name}
        self._reconcile_seconds = metrics.RECONCILE_SECONDS.labels(**labels)
        self._labels = labels
        metrics.QUEUE_DEPTH.labels(**labels).set_function(lambda: len(self.queue))
        res = kind.resource
        self.virtual = Informer(self.ctx.virtual, res, name=f"virtual-{res.plural}")
        self.host = Informer(
            self.ctx.host,
            res,
            namespace=self.ctx.host_namespace,
            label_selector=self.ctx.managed_selector,
            name=f"host-{res.plural}",
        )
        self.virtual.add_handler(lambda _t, obj: self._enqueue_virtual(obj))
        self.host.add_handler(lambda _t, obj: self._enqueue_host(obj))
        metrics.SYNCED.labels(**labels).set_function(lambda: len(self.host.cache))
        kind.requeue_after = self.queue.add_after  # type: ignore[method-assign]
        self._tasks: list[asyncio.Task[None]] = []

    def _enqueue_virtual(self, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        self.queue.add((meta.get("namespace", ""), meta.get("name", "")))

    def _enqueue_host(self, obj: Obj) -> None:
        key = names.virtual_key(obj)
        if key is not None:
            self.queue.add(key)

    def enqueue_all(self) -> None:
        for obj in self.virtual.items():
            self._enqueue_virtual(obj)
        for obj in self.host.items():
            self._enqueue_host(obj)

    async def start(self) -> None:
        self._tasks += [self.virtual.start(), self.host.start()]
        await asyncio.gather(self.virtual.synced.wait(), self.host.synced.wait())
        self.enqueue_all()
        self._tasks += [
            asyncio.create_task(self._worker(), name=f"{self.kind.name}-worker-{i}")
            for i in range(self.kind.workers)
        ]
        self._tasks.append(asyncio.create_task(self._resync(), name=f"{self.kind.name}-resync"))

    async def stop(self) -> None:
        self.queue.shutdown()
        await cancel_all(self._tasks)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            self.enqueue_all()

    async def _worker(self) -> None:
        await process(self.queue, self._timed_reconcile, self._failed)

    async def _timed_reconcile(self, key: Key) -> None:
        started = time.monotonic()
        try:
            await self.reconcile(key)
        finally:
            self._reconcile_seconds.observe(time.monotonic() - started)

    def _count(self, operation: str) -> None:
        metrics.OPERATIONS.labels(**self._labels, operation=operation).inc()

    def _failed(self, key: Key, exc: BaseException) -> None:
        metrics.RECONCILE_ERRORS.labels(**self._labels, error=type(exc).__name__).inc()
        conflict = isinstance(exc, ApiError) and exc.conflict
        if not isinstance(exc, (ApiError, *TRANSIENT)):
            log.error(
                "reconcile crashed", exc_info=exc, extra=kv(kind=self.kind.name, key="/".join(key))
            )
        if conflict:
            # Someone else wrote first: our cache catches up within milliseconds, so retry
            # soon rather than backing off for minutes.
            delay = min(self.queue.base_delay * 2 ** self.queue.failures(key), 1.0)
            self.queue.add_after(key, delay)
        else:
            delay = self.queue.add_rate_limited(key)
        level = logging.DEBUG if conflict else logging.WARNING
        log.log(
            level,
            "reconcile failed, retrying",
            extra=kv(
                kind=self.kind.name, key="/".join(key), error=str(exc), retry_in=round(delay, 3)
            ),
        )

    async def reconcile(self, key: Key) -> None:
        namespace, name = key
        ctx = self.ctx
        vobj = self.virtual.get(namespace, name)
        host_name = ctx.host_name(name, namespace)
        hobj = self.host.get(ctx.host_namespace, host_name)
        if hobj is not None and not names.is_ours(hobj, vcluster=ctx.vcluster):
            # Never touched. Worth a warning only if we wanted that name for ourselves.
            if vobj is not None and self.kind.wanted(vobj):
                log.warning(
                    "host object exists but is not ours; leaving it alone",
                    extra=kv(kind=self.kind.name, host=host_name),
                )
            return

        if hobj is not None and names.recorded_uid(hobj) == names.PENDING_UID:
            if vobj is None:
                wait = PENDING_GRACE - _age(hobj)
                if wait > 0:
                    self.queue.add_after(key, wait)
                    return
            elif self.kind.adoptable(vobj, hobj):
                hobj = await self._adopt(vobj, hobj)

        deleting = vobj is not None and vobj["metadata"].get("deletionTimestamp")
        if deleting and await self.kind.virtual_deleting(vobj, hobj):
            return

        if vobj is None or not self.kind.wanted(vobj):
            if hobj is not None:
                await self._delete_host(hobj)
            if vobj is None:
                await self.kind.virtual_gone(key, hobj)
            return

        if hobj is not None and names.recorded_uid(hobj) != vobj["metadata"].get("uid"):
            log.info(
                "host object belongs to an older virtual object; replacing it",
                extra=kv(kind=self.kind.name, host=host_name),
            )
            await self._delete_host(hobj)
            self.queue.add_after(key, 0.2)
            return

        desired = self.kind.to_host(copy.deepcopy(vobj))
        if hobj is None:
            if await self.kind.host_missing(vobj) or await self.kind.refuse(vobj):
                return
            desired = merge.stamp_records(await self.kind.prepare(vobj, desired))
            try:
                created = await self.kind.create_host(desired)
            except ApiError as exc:
                if exc.already_exists:
                    return  # our informer will deliver it and requeue the key
                raise
            self._count("create")
            self.host.write_through(created, None)
            hobj = created
            await self.kind.after_create(vobj, created)
        else:
            await self._update_host(vobj, desired, hobj)
            await self.kind.after_update(vobj, hobj)

        written = await self.kind.sync_back(vobj, hobj)
        if written is not None:
            self.virtual.write_through(written, vobj)
            self._count("status")

    async def _adopt(self, vobj: Obj, hobj: Obj) -> Obj:
        """Record the virtual UID on a host object made at admission."""
        meta = hobj["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "annotations": {names.ANNOTATION_UID: vobj["metadata"]["uid"]},
            }
        }
        adopted = await self.ctx.host.patch(
            self.kind.resource, meta["name"], patch, meta["namespace"]
        )
        self.host.write_through(adopted, hobj)
        self._count("adopt")
        return adopted

    async def _update_host(self, vobj: Obj, desired: Obj, hobj: Obj) -> None:
        labels, annotations = merge.merged_metadata(hobj["metadata"], desired["metadata"])
        patch: Obj = {}
        if labels != (hobj["metadata"].get("labels") or {}):
            patch.setdefault("metadata", {})["labels"] = merge.merge_patch(
                hobj["metadata"].get("labels") or {}, labels
            )
        if annotations != (hobj["metadata"].get("annotations") or {}):
            patch.setdefault("metadata", {})["annotations"] = merge.merge_patch(
                hobj["metadata"].get("annotations") or {}, annotations
            )
        spec_patch = self.kind.host_update(vobj, desired, hobj)
        if spec_patch:
            patch.update(spec_patch)
        if not patch:
            return
        patch.setdefault("metadata", {})["resourceVersion"] = hobj["metadata"]["resourceVersion"]
        meta = hobj["metadata"]
        updated = await self.ctx.host.patch(
            self.kind.resource, meta["name"], patch, meta["namespace"]
        )
        self.host.write_through(updated, hobj)
        self._count("update")

    async def _delete_host(self, hobj: Obj, grace_period: int | None = None) -> None:
        meta = hobj["metadata"]
        await self.ctx.host.delete(
            self.kind.resource,
            meta["name"],
            meta["namespace"],
            uid=meta.get("uid"),
            grace_period=grace_period,
        )
        self._count("delete")


def _age(obj: Obj) -> float:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    then = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - then).total_seconds()
