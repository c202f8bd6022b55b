"""Services: the same ClusterIP inside and on the host; load-balancer status back."""

import logging

from subkube.kube.copying import json_copy
from subkube.kube.resource import SERVICES, Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import merge, names
from subkube.syncer.resources.services import translate
from subkube.syncer.tohost import Admission, ToHost

log = logging.getLogger(__name__)

# Served by the vcluster itself (its API), never copied to the host.
SKIPPED = {("default", "kubernetes")}


class Services(ToHost):
    name = "services"
    resource: Resource = SERVICES
    translate = translate
    admitted = True

    def adoptable(self, vobj: Obj, hobj: Obj) -> bool:
        return not translate.ip_mismatch(vobj, hobj)

    async def admit(self, request: Obj) -> Admission:
        """Create the host Service first and give the one being created its ClusterIP, so the
        tenant's create already answers with the address the host routes. Anything this
        cannot do is left to the sync (which recreates the virtual Service with the host's
        IP), except a ClusterIP the tenant asked for that the host refuses: a plain cluster
        refuses that create too."""
        vobj = json_copy(request.get("object") or {})
        meta = vobj.setdefault("metadata", {})
        namespace = request.get("namespace") or meta.get("namespace", "")
        name = meta.get("name") or request.get("name", "")
        if (
            request.get("dryRun")
            or not name
            or (namespace, name) in SKIPPED
            or not translate.born_on_host(vobj)
        ):
            return Admission()
        meta.update(namespace=namespace, name=name, uid=names.PENDING_UID)
        ctx = self.ctx
        host_name = ctx.host_name(name, namespace)
        if await ctx.virtual.get_or_none(SERVICES, name, namespace) is not None:
            return Admission()  # the virtual API server refuses the duplicate itself
        existing = await ctx.host.get_or_none(SERVICES, host_name, ctx.host_namespace)
        if existing is not None and not names.is_ours(existing, vcluster=ctx.vcluster):
            return Admission()
        if existing is not None and names.recorded_uid(existing) != names.PENDING_UID:
            # The copy of an earlier Service of that name that the sync has not removed yet.
            await ctx.host.delete(
                SERVICES, host_name, ctx.host_namespace, uid=existing["metadata"]["uid"]
            )
            existing = None
        if existing is None:
            desired = merge.stamp_records(self.to_host(vobj))
            try:
                existing = await ctx.host.create(SERVICES, desired, ctx.host_namespace)
            except ApiError as exc:
                if exc.status != 422:
                    raise
                message = str(exc.body.get("message", "")).replace(host_name, name)
                return Admission(allowed=False, code=422, message=message)
            log.info(
                "host service created at admission",
                extra=kv(service=f"{namespace}/{name}", ip=existing["spec"].get("clusterIP")),
            )
        return Admission(patch=translate.admission_patch(vobj, existing))

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        return (meta.get("namespace"), meta["name"]) not in SKIPPED

    async def create_host(self, desired: Obj) -> Obj:
        try:
            return await self.ctx.host.create(SERVICES, desired, self.ctx.host_namespace)
        except ApiError as exc:
            # 422: the virtual ClusterIP is taken on the host. Take any free one; sync_back
            # then gives the virtual Service the host's address.
            if exc.status != 422 or "clusterIP" not in str(exc.body):
                raise
            return await self.ctx.host.create(
                SERVICES, translate.without_cluster_ip(desired), self.ctx.host_namespace
            )

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        if not translate.ip_mismatch(vobj, hobj):
            return await super().sync_back(vobj, hobj)
        ip = hobj["spec"]["clusterIP"]
        meta = vobj["metadata"]
        log.info(
            "recreating virtual service with the host's ClusterIP",
            extra=kv(service=f"{meta['namespace']}/{meta['name']}", ip=ip),
        )
        await self.ctx.virtual.delete(SERVICES, meta["name"], meta["namespace"], uid=meta["uid"])
        fresh = await self.ctx.virtual.create(
            SERVICES, translate.recreated_with_ip(vobj, ip), meta["namespace"]
        )
        # Point the host copy at the new virtual object, so it is not taken for stale.
        await self.ctx.host.patch(
            SERVICES,
            hobj["metadata"]["name"],
            {"metadata": {"annotations": {names.ANNOTATION_UID: fresh["metadata"]["uid"]}}},
            self.ctx.host_namespace,
        )
        return fresh
