"""Events: host -> virtual, for events about objects this vcluster copied to the host.
Best effort: a few retries, then an event is let go."""

import logging
from collections.abc import Iterable

from subkube.kube.informer import Informer, Key
from subkube.kube.resource import EVENTS
from subkube.kube.rest import ApiError, Obj
from subkube.syncer import engine, names
from subkube.syncer.resources.events import translate

log = logging.getLogger(__name__)


class Events(engine.Kind):
    name = "events"
    workers = 4
    max_retries = 5

    def watch(self) -> list[Informer]:
        ctx = self.ctx
        self.events = ctx.cache.informer("host", EVENTS, namespace=ctx.host_namespace)
        # The host copies events can be about, by kind: the same informers their kinds read.
        # Events about cluster-scoped copies are not in the host namespace, so none of those.
        self.involved = {
            kind: ctx.owned(res) for kind, res in ctx.to_host_kinds.items() if res.namespaced
        }
        # The copies made inside, so that a replay of the host's events (every start lists
        # them all) writes nothing for those already there.
        self.copies = ctx.cache.informer(
            "virtual",
            EVENTS,
            label_selector=f"{names.LABEL_MANAGED_BY}={ctx.vcluster}",
            keep=translate.copied,
        )
        self.events.add_handler(self._on_event)
        return [self.events, self.copies, *self.involved.values()]

    def _on_event(self, kind: str, obj: Obj) -> None:
        if kind != "DELETED" and obj.get("involvedObject", {}).get("kind") in self.involved:
            self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def all_keys(self) -> Iterable[Key]:
        return ()

    async def reconcile(self, key: Key) -> None:
        hevent = self.events.get(*key)
        if hevent is None:
            return
        ref = hevent["involvedObject"]
        informer = self.involved.get(ref.get("kind", ""))
        involved = informer.get(self.ctx.host_namespace, ref.get("name", "")) if informer else None
        if involved is None:
            return
        vevent = translate.to_virtual(
            hevent, involved, host_namespace=self.ctx.host_namespace, vcluster=self.ctx.vcluster
        )
        if vevent is None:
            return
        virtual, vmeta = self.ctx.virtual, vevent["metadata"]
        existing = self.copies.get(vmeta["namespace"], vmeta["name"])
        if existing is None:
            try:
                await virtual.create(EVENTS, vevent, vmeta["namespace"])
                self.count("create")
                return
            except ApiError as exc:
                if not exc.already_exists:
                    # The namespace may be terminating; events are best effort.
                    if exc.status in (403, 404, 409):
                        return
                    raise
            # Made before copies were labelled, or not in the cache yet.
            existing = await virtual.get_or_none(EVENTS, vmeta["name"], vmeta["namespace"])
            if existing is None:
                return
        patch = translate.changed(existing, vevent)
        if patch is not None:
            await virtual.patch(EVENTS, vmeta["name"], patch, vmeta["namespace"])
            self.count("update")
