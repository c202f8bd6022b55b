"""ConfigMaps: virtual -> host, only those pods use (or all, if configured)."""

from subkube.kube.resource import CONFIGMAPS, Resource
from subkube.kube.rest import Obj
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.names import DOMAIN
from subkube.syncer.references import ReferenceIndex
from subkube.syncer.resources.configmaps import translate

# Set to "true" on a ConfigMap or Secret to sync it even when no pod uses it.
FORCE_SYNC_ANNOTATION = f"{DOMAIN}/force-sync"


class ReferencedKind(Kind):
    """A kind synced only while a pod refers to it, unless `all` is configured."""

    def __init__(self, ctx: SyncContext, refs: ReferenceIndex | None, *, sync_all: bool) -> None:
        super().__init__(ctx)
        self.refs = refs
        self.sync_all = sync_all

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if self.sync_all or (meta.get("annotations") or {}).get(FORCE_SYNC_ANNOTATION) == "true":
            return True
        return self.refs is not None and self.refs.is_referenced(
            self.resource.plural, meta.get("namespace", ""), meta["name"]
        )


class ConfigMaps(ReferencedKind):
    name = "configmaps"
    resource: Resource = CONFIGMAPS
    translate = translate
    owned_fields = ("data", "binaryData")
