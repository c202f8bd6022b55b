"""PodDisruptionBudgets: virtual -> host (sync.toHost.podDisruptionBudgets), selectors scoped
to the tenant's pods. The host's disruption controller counts the host pods and writes the
status, which flows back with pod names translated; evictions inside (`kubectl drain`, the
eviction API) read it there. The virtual controller-manager runs without its own disruption
controller then (the registry says this kind takes it over), or the two would fight over
the virtual status.

Host pods have no controller (the vcluster's Service owns them), so the host's controller
knows the expected number of pods only for an integer minAvailable: the host copy always
has one, which the syncer computes from the virtual pods the budget expects (translate.py
says how, and what it approximates). A budget is computed again when a pod of its
namespace comes or goes, or changes what a budget reads of it (its labels, whether it
counts: phase, deletion); the many other changes of a pod (status) touch no budget."""

import datetime as dt

from subkube.kube.informer import BY_NAMESPACE, Informer, Key, namespace_of
from subkube.kube.resource import PDBS, PODS, Resource
from subkube.kube.rest import Obj
from subkube.syncer import merge
from subkube.syncer.resources.poddisruptionbudgets import translate
from subkube.syncer.tohost import ToHost


class PodDisruptionBudgets(ToHost):
    name = "poddisruptionbudgets"
    resource: Resource = PDBS
    translate = translate

    def watch(self) -> list[Informer]:
        informers = super().watch()
        # A budget reads its namespace's pods.
        self.virtual.add_index(BY_NAMESPACE, namespace_of)
        self.pods = self.ctx.cache.informer("virtual", PODS)
        self.pods.add_index(BY_NAMESPACE, namespace_of)
        # What a budget reads of each virtual pod, to tell the changes that matter to one.
        self._pod_marks: dict[Key, tuple[bool, frozenset[tuple[str, str]]]] = {}
        self.pods.add_handler(self._pod_changed)
        return [*informers, self.pods]

    def _pod_changed(self, event: str, pod: Obj) -> None:
        # A pod that comes or goes changes the pod names the budgets of its namespace
        # translate disruptedPods with; one that changes labels or whether it counts may
        # change how many pods they expect.
        meta = pod.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            self._pod_marks.pop(key, None)
        else:
            mark = (translate.counts(pod), frozenset((meta.get("labels") or {}).items()))
            before = self._pod_marks.get(key)
            self._pod_marks[key] = mark
            if event == "MODIFIED" and mark == before:
                return
        for pdb in self.virtual.in_namespace(key[0]):
            self._enqueue_virtual(pdb)

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
            pods=self.pods.in_namespace(vobj["metadata"]["namespace"]),
        )

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        pods = self.pods.in_namespace(vobj["metadata"]["namespace"])
        return translate.status_to_virtual(
            vobj,
            hobj,
            pod_names=translate.host_pod_names(pods, self.ctx.vcluster),
            now=dt.datetime.now(dt.UTC),
        )

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        """Like every kind's, but only onto the virtual status this was computed from: the
        eviction API takes a disruption by writing that status, and a write based on an
        older one would give the disruption back."""
        meta = vobj["metadata"]
        update = self.virtual_update(vobj, hobj)
        if (update or vobj).get("status", {}).get("disruptedPods"):
            # Evictions not yet seen on the host expire after a while, with no other change.
            self.requeue_after(
                (meta["namespace"], meta["name"]), translate.DELETION_TIMEOUT.total_seconds()
            )
        if update is None:
            return None
        patch = {
            "metadata": {"resourceVersion": meta["resourceVersion"]},
            "status": merge.merge_patch(vobj.get("status") or {}, update["status"]),
        }
        return await self.ctx.virtual.patch(
            self.resource, meta["name"], patch, meta["namespace"], subresource="status"
        )
