"""PersistentVolumeClaims: spec to the host (storage class kept), status back."""

from subkube.kube.resource import PVCS, Resource
from subkube.kube.rest import Obj
from subkube.syncer.engine import Kind
from subkube.syncer.resources.persistentvolumeclaims import translate


class PersistentVolumeClaims(Kind):
    name = "persistentvolumeclaims"
    resource: Resource = PVCS
    translate = translate

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        return translate.host_spec_update(desired, actual)

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        return translate.status_to_virtual(vobj, hobj)
