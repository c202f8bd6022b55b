"""PriorityClasses a tenant creates inside, copied to the host (pure): which are copied, the
host copy, how it is brought up to date, and the class name a tenant pod gets on the host."""

from typing import Any

from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.hostclasses.translate import from_host

Obj = dict[str, Any]

# Built into every API server (system-cluster-critical, system-node-critical); the API server
# refuses any other name with this prefix, so a system-* name always means the host's class.
SYSTEM_PREFIX = "system-"

# Field -> what the API server takes an unset field for.
_IMMUTABLE = {"value": None, "preemptionPolicy": "PreemptLowerPriority"}
_MUTABLE = {"description": "", "globalDefault": False}


def wanted(vobj: Obj) -> bool:
    """Tenant classes only: not the built-in ones, not the host's mirrored inside."""
    return not vobj["metadata"]["name"].startswith(SYSTEM_PREFIX) and not from_host(vobj)


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, max_value: int | None = None) -> Obj:
    """MAX_VALUE (sync.toHost.priorityClasses.maxValue): a higher value is lowered to it, so
    that no tenant pod outranks the host's workloads above it."""
    value = vobj["value"] if max_value is None else min(vobj["value"], max_value)
    out: Obj = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": clusterscoped.cluster_metadata(
            vobj, kind="PriorityClass", vcluster=vcluster, host_namespace=host_namespace
        ),
        "value": value,
        # Inside, the tenant's default class is the virtual API server's business; on the
        # host it would give every pod of every tenant and of the host this priority.
        "globalDefault": False,
    }
    for field in ("preemptionPolicy", "description"):
        if field in vobj:
            out[field] = vobj[field]
    return out


def host_spec_update(desired: Obj, actual: Obj) -> clusterscoped.HostUpdate:
    """value and preemptionPolicy cannot change in place: Replace. Pods already running
    keep the priority they were admitted with, so replacing the class disturbs none."""
    return clusterscoped.replace_or_patch(desired, actual, immutable=_IMMUTABLE, mutable=_MUTABLE)


def host_class_name(name: str, *, vcluster: str, host_namespace: str) -> str:
    """spec.priorityClassName of a tenant pod on the host ('': none, the host's default).
    A built-in class is the host's own system-cluster-critical or system-node-critical, which
    outrank every other pod: any tenant naming it inside (where it exists too) could preempt
    the host's workloads and every other tenant's, so the host pod names none. Any other
    name is a tenant class: a kind is never synced in both directions, so while tenant
    classes go to the host no host class is mirrored inside, and the virtual API server
    admits no pod whose class does not exist there."""
    if not name or name.startswith(SYSTEM_PREFIX):
        return ""
    return names.host_cluster_name(name, host_namespace, vcluster)
