"""Secrets: virtual -> host, only those pods use (or all, if configured)."""

from subkube.kube.resource import SECRETS, Resource
from subkube.kube.rest import Obj
from subkube.syncer.references import ReferencedKind
from subkube.syncer.resources.secrets import translate


class Secrets(ReferencedKind):
    name = "secrets"
    resource: Resource = SECRETS
    translate = translate
    owned_fields = ("data", "type")

    def wanted(self, vobj: Obj) -> bool:
        if vobj.get("type") in translate.SKIPPED_TYPES:
            return False
        return super().wanted(vobj)

    def sync_all(self) -> bool:
        return self.ctx.sync.toHost.secrets.all
