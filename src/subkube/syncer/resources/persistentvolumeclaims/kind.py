"""PersistentVolumeClaims: spec to the host (storage class kept), status back, and a volume
inside for every bound claim, so `kubectl get pvc` shows VOLUME and STORAGECLASS."""

import logging

from subkube.kube.resource import PVCS, PVS, Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer.resources.persistentvolumeclaims import translate
from subkube.syncer.tohost import ToHost

log = logging.getLogger(__name__)


class PersistentVolumeClaims(ToHost):
    name = "persistentvolumeclaims"
    resource: Resource = PVCS
    translate = translate

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        return translate.host_spec_update(desired, actual)

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        return translate.status_to_virtual(vobj, hobj)

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        binding = translate.claim_binding(vobj, hobj)
        if binding is not None:
            if "volumeName" in binding["spec"]:
                await self._ensure_volume(vobj, hobj)
            meta = vobj["metadata"]
            patch = {**binding, "metadata": {"resourceVersion": meta["resourceVersion"]}}
            vobj = await self.ctx.virtual.patch(PVCS, meta["name"], patch, meta["namespace"])
        written = await super().sync_back(vobj, hobj)
        return written or (vobj if binding is not None else None)

    async def _ensure_volume(self, vobj: Obj, hobj: Obj) -> None:
        volume = translate.virtual_volume(vobj, hobj)
        name = volume["metadata"]["name"]
        try:
            created = await self.ctx.virtual.create(PVS, volume)
        except ApiError as exc:
            if not exc.already_exists:
                raise
            return
        created["status"] = {"phase": "Bound"}
        await self.ctx.virtual.replace_status(PVS, created)
        log.info("volume shown inside", extra=kv(volume=name))

    async def virtual_gone(self, key: tuple[str, str], hobj: Obj | None) -> None:
        name = translate.bound_volume(hobj) if hobj is not None else ""
        if not name:
            return
        volume = await self.ctx.virtual.get_or_none(PVS, name)
        if volume is None or not translate.is_volume_of(volume, *key):
            return
        await self.ctx.virtual.delete(PVS, name, uid=volume["metadata"]["uid"])
        # Inside, nothing runs that would release the volume for its protection finalizer.
        if volume["metadata"].get("finalizers"):
            try:
                await self.ctx.virtual.patch(PVS, name, {"metadata": {"finalizers": None}})
            except ApiError as exc:
                if not exc.not_found:
                    raise
        log.info("volume removed inside", extra=kv(volume=name))
