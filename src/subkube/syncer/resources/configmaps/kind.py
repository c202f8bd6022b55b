"""ConfigMaps: virtual -> host, only those pods use (or all, if configured)."""

from subkube.kube.resource import CONFIGMAPS, Resource
from subkube.syncer.references import ReferencedKind
from subkube.syncer.resources.configmaps import translate


class ConfigMaps(ReferencedKind):
    name = "configmaps"
    resource: Resource = CONFIGMAPS
    translate = translate
    owned_fields = ("data", "binaryData")

    def sync_all(self) -> bool:
        return self.ctx.sync.toHost.configMaps.all
