"""Ingresses: virtual -> host (sync.toHost.ingresses), backends and TLS Secrets renamed to
their host copies; the host's load-balancer status back inside."""

from subkube.kube.resource import INGRESSES, Resource
from subkube.kube.rest import Obj
from subkube.syncer.references import reference
from subkube.syncer.resources.ingresses import translate
from subkube.syncer.tohost import ToHost


class Ingresses(ToHost):
    name = "ingresses"
    resource: Resource = INGRESSES
    translate = translate

    @staticmethod
    def references(vobj: Obj) -> list[str]:
        # The host's ingress controller reads the TLS Secrets from the host: they sync
        # because the Ingress names them, even with toHost.secrets.all off.
        namespace = vobj.get("metadata", {}).get("namespace", "")
        return [
            reference("secrets", namespace, name)
            for name in sorted(translate.referenced_secrets(vobj))
        ]
