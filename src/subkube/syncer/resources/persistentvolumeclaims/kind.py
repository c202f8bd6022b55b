"""PersistentVolumeClaims: spec to the host (storage class kept, or the host name of the
tenant's own class), status back, and a volume inside for every bound claim, so `kubectl get
pvc` shows VOLUME and STORAGECLASS: the tenant's own volume when the claim is bound to its
host copy, else one that stands for the host's."""

import logging
from collections.abc import Set

from subkube.kube.informer import Informer
from subkube.kube.resource import PVCS, PVS, STORAGECLASSES, Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.persistentvolumeclaims import translate
from subkube.syncer.resources.persistentvolumes import translate as persistentvolumes
from subkube.syncer.resources.storageclasses import translate as storageclasses
from subkube.syncer.tohost import ToHost

log = logging.getLogger(__name__)


class PersistentVolumeClaims(ToHost):
    name = "persistentvolumeclaims"
    resource: Resource = PVCS
    translate = translate
    # The tenant's classes and volumes inside (None: not synced to the host), and the host
    # copies of its volumes.
    classes: Informer | None = None
    volumes: Informer | None = None
    host_volumes: Informer | None = None

    def watch(self) -> list[Informer]:
        informers = super().watch()
        cache, sync = self.ctx.cache, self.ctx.sync
        if sync.toHost.storageClasses.enabled:
            self.classes = cache.informer("virtual", STORAGECLASSES)
            informers.append(self.classes)
        if sync.toHost.persistentVolumes.enabled:
            self.volumes = cache.informer("virtual", PVS)
            # The very informer the volumes' kind reads its host copies with.
            self.host_volumes = cache.informer(
                "host",
                PVS,
                label_selector=clusterscoped.selector(
                    vcluster=self.ctx.vcluster, host_namespace=self.ctx.host_namespace
                ),
            )
            informers += [self.volumes, self.host_volumes]
        return informers

    def _storage_classes(self) -> set[str]:
        """The tenant's classes copied to the host."""
        if self.classes is None:
            return set()
        return {c["metadata"]["name"] for c in self.classes.items() if storageclasses.wanted(c)}

    def _tenant_volumes(self, name: str | None) -> set[str]:
        """{NAME} when it is one of the tenant's volumes copied to the host, else none."""
        if self.volumes is None or not name:
            return set()
        volume = self.volumes.get("", name)
        return {name} if volume is not None and persistentvolumes.wanted(volume) else set()

    def _to_host(self, vobj: Obj, storage_classes: Set[str], tenant_volumes: Set[str]) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
            storage_classes=storage_classes,
            volumes=tenant_volumes,
        )

    def to_host(self, vobj: Obj) -> Obj:
        volume = (vobj.get("spec") or {}).get("volumeName")
        return self._to_host(vobj, self._storage_classes(), self._tenant_volumes(volume))

    async def prepare(self, vobj: Obj, desired: Obj) -> Obj:
        # The claim's watch can bring it before the class's or the volume's brings what it
        # names, and the host claim can change neither later: the API server tells.
        spec = vobj.get("spec") or {}
        cls, volume = spec.get("storageClassName"), spec.get("volumeName")
        storage_classes, tenant_volumes = self._storage_classes(), self._tenant_volumes(volume)
        late_class = await self._late(self.classes, STORAGECLASSES, cls, storage_classes)
        late_volume = await self._late(self.volumes, PVS, volume, tenant_volumes)
        if not (late_class or late_volume):
            return desired
        if late_class:
            storage_classes.add(cls)
        if late_volume:
            tenant_volumes.add(volume)
        return self._to_host(vobj, storage_classes, tenant_volumes)

    async def _late(
        self, informer: Informer | None, res: Resource, name: str | None, known: Set[str]
    ) -> bool:
        """Whether NAME, not among those INFORMER KNOWS (None: the kind is not synced), is
        the tenant's all the same: its watch event has not come yet."""
        if informer is None or not name or name in known:
            return False
        obj = await self.ctx.virtual.get_or_none(res, name)
        wanted = storageclasses.wanted if res is STORAGECLASSES else persistentvolumes.wanted
        return obj is not None and wanted(obj)

    def _tenant_volume_of(self, host_volume: str) -> str:
        """The name inside of the tenant's volume whose host copy is HOST_VOLUME, or ''."""
        if self.host_volumes is None or not host_volume:
            return ""
        hobj = self.host_volumes.get("", host_volume)
        ctx = self.ctx
        if hobj is None or not clusterscoped.is_ours(
            hobj, vcluster=ctx.vcluster, host_namespace=ctx.host_namespace
        ):
            return ""
        key = names.virtual_key(hobj)
        return key[1] if key else ""

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        tenant_volume = self._tenant_volume_of(translate.bound_volume(hobj))
        binding = translate.claim_binding(vobj, hobj, tenant_volume=tenant_volume)
        if binding is not None:
            if "volumeName" in binding["spec"] and not tenant_volume:
                await self._ensure_volume(vobj, hobj)
            meta = vobj["metadata"]
            patch = {**binding, "metadata": {"resourceVersion": meta["resourceVersion"]}}
            vobj = await self.ctx.virtual.patch(PVCS, meta["name"], patch, meta["namespace"])
        written = await super().sync_back(vobj, hobj)
        return written or (vobj if binding is not None else None)

    async def _ensure_volume(self, vobj: Obj, hobj: Obj) -> None:
        shown_classes = storageclasses.virtual_class_names(
            self._storage_classes(),
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
        )
        volume = translate.virtual_volume(vobj, hobj, classes=shown_classes)
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
