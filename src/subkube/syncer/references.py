"""ConfigMaps and Secrets synced because a pod uses them: the virtual pods informer keeps
an index of what each pod refers to, and a pod arriving or leaving looks again at what it
names."""

from subkube.kube.informer import Informer
from subkube.kube.resource import PODS
from subkube.kube.rest import Obj
from subkube.syncer.names import DOMAIN
from subkube.syncer.resources.pods.references import pod_references
from subkube.syncer.tohost import ToHost

# Set to "true" on a ConfigMap or Secret to sync it even when no pod uses it.
FORCE_SYNC_ANNOTATION = f"{DOMAIN}/force-sync"
INDEX = "references"


def _referenced(pod: Obj) -> list[str]:
    namespace = pod.get("metadata", {}).get("namespace", "")
    return [
        f"{plural}/{namespace}/{name}"
        for plural, names in pod_references(pod).items()
        for name in names
    ]


class ReferencedKind(ToHost):
    """A kind synced only while a pod refers to it, unless `all` is configured."""

    def sync_all(self) -> bool:
        """Whether the config asks for every object of the kind, used or not."""
        raise NotImplementedError

    def watch(self) -> list[Informer]:
        self.pods = self.ctx.cache.informer("virtual", PODS)
        self.pods.add_index(INDEX, _referenced)
        plural = self.resource.plural

        def on_pod(event: str, pod: Obj) -> None:
            # A pod's references are fixed at creation: only arrivals and departures matter.
            if event == "MODIFIED":
                return
            for ref in _referenced(pod):
                kind, namespace, name = ref.split("/", 2)
                if kind == plural:
                    self.enqueue((namespace, name))

        self.pods.add_handler(on_pod)
        return [*super().watch(), self.pods]

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if self.sync_all() or (meta.get("annotations") or {}).get(FORCE_SYNC_ANNOTATION) == "true":
            return True
        ref = f"{self.resource.plural}/{meta.get('namespace', '')}/{meta['name']}"
        return bool(self.pods.by_index(INDEX, ref))
