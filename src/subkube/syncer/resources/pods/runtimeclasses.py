"""Which host RuntimeClass a pod runs under (pure).

A RuntimeClass names a handler, the runtime a node's container runtime is configured with;
it is cluster-scoped, and the host's admission refuses a pod naming a class the host does
not have. So a pod naming a class its tenant made inside runs on the host under a host
class with the same handler (pods.translate.host_runtime_class); the host's admission then
fills in that class's overhead and scheduling. Finding it means reading the host's
RuntimeClasses, a cluster-wide right, and nothing is cluster-wide by default: the mapping
works when `sync.fromHost.runtimeClasses` is on, which holds that right already and shows
the host's classes inside, read-only (a pod naming one of those copies keeps its name: it is
the host's class). Without it, a pod naming a tenant's class is refused, and told which
setting to turn on; so is a pod whose handler no host class has (it goes through once one
appears). A pod is never run under another handler than the one its class names, nor
without one. (Without the right, the host could still be asked by name, with a dry-run
create of the pod: a host class of the same name may have another handler, so no.)
"""

from dataclasses import dataclass
from typing import Any

from subkube.syncer.resources.hostclasses.translate import from_host
from subkube.syncer.resources.pods.translate import host_runtime_class

Obj = dict[str, Any]

SETTING = "sync.fromHost.runtimeClasses"


@dataclass(frozen=True)
class HostClass:
    """The host class to run under (NAME), or why there is none (REFUSAL)."""

    name: str | None = None
    refusal: str = ""


def host_class(name: str, virtual_class: Obj | None, host_classes: list[Obj] | None) -> HostClass:
    """The host class for a pod naming the virtual RuntimeClass NAME (VIRTUAL_CLASS: that
    object, None if there is none); HOST_CLASSES: the host's, None when they cannot be read
    (the setting is off)."""
    if virtual_class is None:
        # Admission inside refuses such a pod; its class was deleted since.
        return HostClass(refusal=f'RuntimeClass "{name}" does not exist')
    if from_host(virtual_class):
        return HostClass(name)
    handler = virtual_class.get("handler", "")
    if host_classes is None:
        return HostClass(
            refusal=f'RuntimeClass "{name}" (handler "{handler}") was made in the vcluster; '
            f"enable {SETTING} to run its pods under the host RuntimeClass of that handler"
        )
    found = host_runtime_class(virtual_class, host_classes)
    if found is None:
        return HostClass(
            refusal=f'no RuntimeClass on the host has handler "{handler}" '
            f'(of RuntimeClass "{name}"); the pod waits for one'
        )
    return HostClass(found)


def mapping(
    virtual_classes: list[Obj], host_classes: list[Obj]
) -> tuple[dict[str, str], dict[str, Obj]]:
    """For every tenant's RuntimeClass a host class stands for: virtual name -> host name,
    and virtual name -> the tenant class's scheduling (PodContext.runtime_class_names and
    runtime_class_scheduling)."""
    names: dict[str, str] = {}
    scheduling: dict[str, Obj] = {}
    for vclass in virtual_classes:
        if from_host(vclass):
            continue
        found = host_runtime_class(vclass, host_classes)
        if found is None:
            continue
        name = vclass["metadata"]["name"]
        names[name] = found
        if vclass.get("scheduling"):
            scheduling[name] = vclass["scheduling"]
    return names, scheduling
