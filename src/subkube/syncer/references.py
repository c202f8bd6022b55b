"""ConfigMaps and Secrets synced because something synced uses them (pods, and whatever
other kind declares `references`): each referring kind's virtual informer keeps an index of
what its objects name, and an object arriving, changing or leaving looks again at what it
named before and names now."""

from subkube.kube.informer import Informer
from subkube.kube.rest import Obj
from subkube.syncer.names import DOMAIN
from subkube.syncer.tohost import ToHost

# Set to "true" on a ConfigMap or Secret to sync it even when nothing uses it.
FORCE_SYNC_ANNOTATION = f"{DOMAIN}/force-sync"
INDEX = "references"


def reference(plural: str, namespace: str, name: str) -> str:
    """An index value: what a referring object names."""
    return f"{plural}/{namespace}/{name}"


class ReferencedKind(ToHost):
    """A kind synced only while an object of a referring kind names it, unless `all` is
    configured."""

    def sync_all(self) -> bool:
        """Whether the config asks for every object of the kind, used or not."""
        raise NotImplementedError

    def watch(self) -> list[Informer]:
        plural = self.resource.plural
        self.referrers: list[Informer] = []
        # What each referring object named when last seen, to find what it stopped naming.
        seen: dict[tuple[str, str, str], set[str]] = {}
        for res, refs in self.ctx.referrers:
            informer = self.ctx.cache.informer("virtual", res)
            informer.add_index(INDEX, refs)

            def on_change(event: str, obj: Obj, res_plural: str = res.plural, refs=refs) -> None:
                meta = obj.get("metadata", {})
                key = (res_plural, meta.get("namespace", ""), meta.get("name", ""))
                now = set() if event == "DELETED" else set(refs(obj))
                before = seen.pop(key, set())
                if now:
                    seen[key] = now
                for ref in now ^ before:
                    kind, namespace, name = ref.split("/", 2)
                    if kind == plural:
                        self.enqueue((namespace, name))

            informer.add_handler(on_change)
            self.referrers.append(informer)
        return [*super().watch(), *self.referrers]

    def wanted(self, vobj: Obj) -> bool:
        meta = vobj["metadata"]
        if self.sync_all() or (meta.get("annotations") or {}).get(FORCE_SYNC_ANNOTATION) == "true":
            return True
        ref = reference(self.resource.plural, meta.get("namespace", ""), meta["name"])
        return any(informer.keys_by_index(INDEX, ref) for informer in self.referrers)
