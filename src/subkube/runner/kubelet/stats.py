"""A node's resource figures as a tenant may see them: its own pods only, under their
virtual names (pure).

The host kubelet reports every pod of the node, under host names. `TenantPods` maps this
vcluster's host pods back to what the tenant knows; everything else is left out.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from subkube.syncer import names

Obj = dict[str, Any]


@dataclass(frozen=True)
class VirtualRef:
    namespace: str
    name: str
    uid: str


class TenantPods:
    """This vcluster's pods on one host node, by host name."""

    def __init__(self, host_namespace: str, pods: dict[str, VirtualRef]) -> None:
        self.host_namespace = host_namespace
        self.pods = pods

    @classmethod
    def of(
        cls, host_pods: list[Obj], *, host_namespace: str, vcluster: str, node: str
    ) -> "TenantPods":
        out = {}
        for pod in host_pods:
            meta = pod.get("metadata", {})
            if pod.get("spec", {}).get("nodeName") != node:
                continue
            if meta.get("namespace") != host_namespace or not names.is_ours(pod, vcluster=vcluster):
                continue
            annotations = meta.get("annotations") or {}
            out[meta["name"]] = VirtualRef(
                annotations.get(names.ANNOTATION_NAMESPACE, ""),
                annotations.get(names.ANNOTATION_NAME, ""),
                annotations.get(names.ANNOTATION_UID, ""),
            )
        return cls(host_namespace, out)

    def lookup(self, namespace: str | None, name: str | None) -> VirtualRef | None:
        if namespace != self.host_namespace or name is None:
            return None
        return self.pods.get(name)


def filter_summary(summary: Obj, tenant: TenantPods) -> Obj:
    """A kubelet `/stats/summary`: the node section as it is, the tenant's pods renamed."""
    pods = []
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        virtual = tenant.lookup(ref.get("namespace"), ref.get("name"))
        if virtual is not None:
            pods.append(
                {
                    **pod,
                    "podRef": {
                        "name": virtual.name,
                        "namespace": virtual.namespace,
                        "uid": virtual.uid,
                    },
                }
            )
    return {**summary, "pods": pods}


def summary_from_pods(node: str, host_pods: list[Obj], tenant: TenantPods) -> Obj:
    """A `/stats/summary` for a host that serves none (KWOK nodes, or no permission to
    proxy to nodes): the tenant's pods and containers on NODE with their start times, and
    no usage figures rather than invented ones."""
    pods = []
    for pod in host_pods:
        meta, status = pod.get("metadata", {}), pod.get("status") or {}
        virtual = tenant.lookup(meta.get("namespace"), meta.get("name"))
        if virtual is None:
            continue
        containers = []
        for cs in status.get("containerStatuses") or []:
            entry: Obj = {"name": cs.get("name", "")}
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if started:
                entry["startTime"] = started
            containers.append(entry)
        entry = {
            "podRef": {"name": virtual.name, "namespace": virtual.namespace, "uid": virtual.uid},
            "containers": containers,
        }
        if status.get("startTime"):
            entry["startTime"] = status["startTime"]
        pods.append(entry)
    return {"node": {"nodeName": node}, "pods": pods}


class _Families(Collector):
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def filter_metrics(text: str, tenant: TenantPods) -> str:
    """A kubelet `/metrics/resource` (Prometheus text): node-level series as they are, pod
    and container series only for the tenant's pods, their labels renamed."""
    families = []
    for family in text_string_to_metric_families(text):
        samples = []
        for sample in family.samples:
            labels = sample.labels
            if "pod" not in labels:
                samples.append(sample)
                continue
            virtual = tenant.lookup(labels.get("namespace"), labels.get("pod"))
            if virtual is not None:
                renamed = {**labels, "namespace": virtual.namespace, "pod": virtual.name}
                samples.append(Sample(sample.name, renamed, sample.value, sample.timestamp))
        family.samples = samples
        families.append(family)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode()
