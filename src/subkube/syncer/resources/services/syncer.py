"""Services: the same ClusterIP inside and on the host; load-balancer status back."""

import logging

from subkube.kube.resource import SERVICES, Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import names
from subkube.syncer.engine import Kind
from subkube.syncer.resources.services import translate

log = logging.getLogger(__name__)

# Served by the vcluster itself (its API), never copied to the host.
SKIPPED = {("default", "kubernetes")}


class Services(Kind):
    name = "services"
    resource: Resource = SERVICES
    translate = translate

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        return (meta.get("namespace"), meta["name"]) not in SKIPPED

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        return translate.host_spec_update(desired, actual)

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        return translate.status_to_virtual(vobj, hobj)

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
