"""PriorityClasses: the tenant's own classes to the host (cluster-scoped copies), so that the
host schedules and preempts tenant pods by them. Pods name the copies (pods.translate)."""

from subkube.kube.resource import PRIORITYCLASSES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.resources.priorityclasses import translate
from subkube.syncer.tohost import ToHost


class PriorityClasses(ToHost):
    name = "priorityclasses"
    resource: Resource = PRIORITYCLASSES
    translate = translate

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            max_value=self.ctx.sync.toHost.priorityClasses.maxValue,
        )
