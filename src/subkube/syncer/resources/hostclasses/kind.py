"""Host cluster-scoped classes shown inside (sync.fromHost.{storageClasses, ingressClasses,
priorityClasses, runtimeClasses}): a read-only copy of each host object, labelled as coming
from the host. An object a tenant made under the same name is left alone."""

from subkube.kube.resource import Resource
from subkube.kube.rest import Obj
from subkube.syncer import clusterscoped
from subkube.syncer.context import SyncContext
from subkube.syncer.fromhost import FromHost
from subkube.syncer.resources.hostclasses import translate


class HostClasses(FromHost):
    # Not the classes vclusters copied to the host (sync.toHost.priorityClasses, …): they
    # are other tenants' business.
    host_selector = f"!{clusterscoped.LABEL_HOST_NAMESPACE}"

    def __init__(self, ctx: SyncContext, resource: Resource) -> None:
        super().__init__(ctx)
        self.resource = resource
        self.name = f"host-{resource.plural}"

    def to_virtual(self, hobj: Obj) -> Obj:
        return translate.to_virtual(hobj)

    def is_copy(self, vobj: Obj) -> bool:
        return translate.from_host(vobj)

    def differs(self, desired: Obj, vobj: Obj) -> bool:
        return translate.differs(desired, vobj)
