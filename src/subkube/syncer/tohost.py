"""Copying a kind from the vcluster to the host: the four rules, for each key (virtual
namespace, name):
  - virtual exists, host missing      -> create the host object
  - both exist                        -> update host from virtual, copy status host -> virtual
  - host exists, virtual gone, ours   -> delete the host object
  - host records another virtual UID  -> stale: delete it, then create anew
A kind (see syncer/resources/*/kind.py) says which resource, which translate functions,
and the few hooks where it differs; everything else lives here. A cluster-scoped kind's
host copies are cluster-scoped too, named and labelled by syncer/clusterscoped.py.
"""

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from subkube.kube.informer import Informer, Key
from subkube.kube.resource import EVENTS, Resource, key_of
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import clusterscoped, engine, merge, names, refusal
from subkube.syncer.context import BY_VIRTUAL, by_virtual

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


class ToHost(engine.Kind):
    """A kind copied to the host. Subclasses set `resource` and `translate` (or override
    `to_host`)."""

    resource: Resource
    virtual: Informer
    host: Informer
    # Top-level fields of the host object that we own and put back when others edit them.
    owned_fields: tuple[str, ...] = ()
    # False: status is written with the object (a custom resource without the subresource).
    status_subresource = True

    @staticmethod
    def references(vobj: Obj) -> list[str]:
        """The ConfigMaps and Secrets VOBJ needs on the host, as "plural/namespace/name"
        (see references.py): they sync because of it."""
        return []

    def wanted(self, vobj: Obj) -> bool:
        """Whether this virtual object should exist on the host (the translate module's
        `wanted`, if it has one)."""
        wanted = getattr(self.translate, "wanted", None)
        return True if wanted is None else bool(wanted(vobj))

    # The kind's pure translate module: to_host(vobj, *, vcluster, host_namespace, owner).
    translate: Any = None

    def to_host(self, vobj: Obj) -> Obj:
        if not self.resource.namespaced:
            # Nothing namespaced can own a cluster-scoped object.
            return self.translate.to_host(  # type: ignore[no-any-return]
                vobj, vcluster=self.ctx.vcluster, host_namespace=self.ctx.host_namespace
            )
        return self.translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,  # type: ignore[no-any-return]
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
        )

    def host_key(self, namespace: str, name: str) -> Key:
        """Where the host copy of the virtual object NAMESPACE/NAME lives."""
        ctx = self.ctx
        if not self.resource.namespaced:
            return "", names.host_cluster_name(name, ctx.host_namespace, ctx.vcluster)
        return ctx.host_namespace, ctx.host_name(name, namespace)

    def is_ours(self, hobj: Obj) -> bool:
        ctx = self.ctx
        if not self.resource.namespaced:
            return clusterscoped.is_ours(
                hobj, vcluster=ctx.vcluster, host_namespace=ctx.host_namespace
            )
        return names.is_ours(hobj, vcluster=ctx.vcluster)

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> clusterscoped.HostUpdate:
        """A merge patch for the host object, None when it already matches, or Replace
        when what differs cannot be changed in place (the translate module's
        `host_spec_update`, if it has one, else the owned fields put back)."""
        update = getattr(self.translate, "host_spec_update", None)
        if update is not None:
            return update(desired, actual)  # type: ignore[no-any-return]
        patch: Obj = {}
        for f in self.owned_fields:
            if desired.get(f) != actual.get(f):
                patch[f] = desired.get(f)
        return patch or None

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        """What flows back to the virtual object (status), or None: the translate module's
        `status_to_virtual`, if it has one."""
        back = getattr(self.translate, "status_to_virtual", None)
        return None if back is None else back(vobj, hobj)  # type: ignore[no-any-return]

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
            subresource="status" if self.status_subresource else None,
        )

    async def create_host(self, desired: Obj) -> Obj:
        return await self.ctx.host.create(self.resource, desired, self.ctx.host_namespace)

    async def after_create(self, vobj: Obj, created: Obj) -> None:
        """Right after the host object was created (pods attach their token Secret)."""

    async def after_update(self, vobj: Obj, hobj: Obj) -> None:
        """After every reconcile where both sides exist (pods refresh tokens)."""

    async def prepare(self, vobj: Obj, desired: Obj) -> Obj:
        """Last step before create (pods mint tokens here)."""
        return desired

    async def refuse(self, vobj: Obj) -> bool:
        """Whether the host copy of VOBJ must not be made (the kind has told the tenant
        why). Not an error: nothing retries until the virtual object changes."""
        return False

    async def tell_refused(self, vobj: Obj, message: str) -> None:
        """A Warning event inside saying why VOBJ never reaches the host (for `refuse`)."""
        log.info(
            "refused",
            extra=kv(kind=self.name, object="/".join(k for k in key_of(vobj) if k), why=message),
        )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        res = self.resource
        event = refusal.event(
            vobj,
            kind=res.kind,
            api_version=res.api_version,
            message=message,
            now=now,
            vcluster=self.ctx.vcluster,
        )
        await self.ctx.virtual.create(EVENTS, event, event["metadata"]["namespace"])

    def waiting(self, vobj: Obj) -> bool:
        """Whether the host copy of VOBJ must wait for another host object it needs, which
        the host would refuse it without (pods: their ServiceAccount's copy). Not an error:
        the kind enqueues the key again when that object arrives."""
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

    def watch(self) -> list[Informer]:
        cache = self.ctx.cache
        self.virtual = cache.informer("virtual", self.resource)
        if self.resource.namespaced:
            self.host = self.ctx.owned(self.resource)
        else:
            self.host = cache.informer(
                "host",
                self.resource,
                label_selector=clusterscoped.selector(
                    vcluster=self.ctx.vcluster, host_namespace=self.ctx.host_namespace
                ),
            )
        self.host.add_index(BY_VIRTUAL, by_virtual)
        self.virtual.add_handler(lambda _t, obj: self._enqueue_virtual(obj))
        self.host.add_handler(lambda _t, obj: self._enqueue_host(obj))
        return [self.virtual, self.host]

    def _enqueue_virtual(self, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        self.enqueue((meta.get("namespace", ""), meta.get("name", "")))

    def _enqueue_host(self, obj: Obj) -> None:
        key = names.virtual_key(obj)
        if key is not None:
            self.enqueue(key)

    def all_keys(self) -> Iterable[Key]:
        yield from self.virtual.cache
        for value in self.host.index_values(BY_VIRTUAL):
            namespace, _, name = value.partition("/")
            yield namespace, name

    def synced_count(self) -> int:
        return len(self.host.cache)

    async def reconcile(self, key: Key) -> None:
        namespace, name = key
        vobj = self.virtual.get(namespace, name)
        host_namespace, host_name = self.host_key(namespace, name)
        hobj = self.host.get(host_namespace, host_name)
        if hobj is not None and not self.is_ours(hobj):
            # Never touched. Worth a warning only if we wanted that name for ourselves.
            if vobj is not None and self.wanted(vobj):
                log.warning(
                    "host object exists but is not ours; leaving it alone",
                    extra=kv(kind=self.name, host=host_name),
                )
            return

        if hobj is not None and names.recorded_uid(hobj) == names.PENDING_UID:
            if vobj is None:
                wait = PENDING_GRACE - _age(hobj)
                if wait > 0:
                    self.requeue_after(key, wait)
                    return
            elif self.adoptable(vobj, hobj):
                hobj = await self._adopt(vobj, hobj)

        deleting = vobj is not None and vobj["metadata"].get("deletionTimestamp")
        if deleting and await self.virtual_deleting(vobj, hobj):
            return

        if vobj is None or not self.wanted(vobj):
            if hobj is not None:
                await self._delete_host(hobj)
            if vobj is None:
                await self.virtual_gone(key, hobj)
            return

        if hobj is not None and names.recorded_uid(hobj) != vobj["metadata"].get("uid"):
            log.info(
                "host object belongs to an older virtual object; replacing it",
                extra=kv(kind=self.name, host=host_name),
            )
            await self._delete_host(hobj)
            self.requeue_after(key, 0.2)
            return

        desired = self.to_host(vobj)
        if hobj is None:
            if await self.host_missing(vobj) or await self.refuse(vobj) or self.waiting(vobj):
                return
            desired = merge.stamp_records(await self.prepare(vobj, desired))
            try:
                created = await self.create_host(desired)
            except ApiError as exc:
                if exc.already_exists:
                    return  # our informer will deliver it and requeue the key
                raise
            self.count("create")
            self.host.write_through(created, None)
            hobj = created
            await self.after_create(vobj, created)
        else:
            if not await self._update_host(vobj, desired, hobj):
                self.requeue_after(key, 0.2)
                return
            await self.after_update(vobj, hobj)

        written = await self.sync_back(vobj, hobj)
        if written is not None:
            self.virtual.write_through(written, vobj)
            self.count("status")

    async def _adopt(self, vobj: Obj, hobj: Obj) -> Obj:
        """Record the virtual UID on a host object made at admission."""
        meta = hobj["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "annotations": {names.ANNOTATION_UID: vobj["metadata"]["uid"]},
            }
        }
        adopted = await self.ctx.host.patch(self.resource, meta["name"], patch, meta["namespace"])
        self.host.write_through(adopted, hobj)
        self.count("adopt")
        return adopted

    async def _update_host(self, vobj: Obj, desired: Obj, hobj: Obj) -> bool:
        """Bring the host object in line; False when it had to be deleted instead (to be
        created anew on the next reconcile)."""
        spec_patch = self.host_update(vobj, desired, hobj)
        if isinstance(spec_patch, clusterscoped.Replace):
            log.info(
                "host object cannot change in place; replacing it",
                extra=kv(
                    kind=self.name,
                    host=hobj["metadata"]["name"],
                    fields=",".join(spec_patch.fields),
                ),
            )
            await self._delete_host(hobj)
            return False
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
        if spec_patch:
            patch.update(spec_patch)
        if not patch:
            return True
        patch.setdefault("metadata", {})["resourceVersion"] = hobj["metadata"]["resourceVersion"]
        meta = hobj["metadata"]
        updated = await self.ctx.host.patch(
            self.resource, meta["name"], patch, meta.get("namespace")
        )
        self.host.write_through(updated, hobj)
        self.count("update")
        return True

    async def _delete_host(self, hobj: Obj, grace_period: int | None = None) -> None:
        meta = hobj["metadata"]
        await self.ctx.host.delete(
            self.resource,
            meta["name"],
            meta.get("namespace"),
            uid=meta.get("uid"),
            grace_period=grace_period,
        )
        self.count("delete")


def _age(obj: Obj) -> float:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    then = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - then).total_seconds()
