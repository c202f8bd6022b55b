"""StorageClasses a tenant creates inside, copied to the host (pure): which are copied, the
host copy, how it is brought up to date, which class is the tenant's default inside, what a
claim's or volume's class name becomes on the host and back, and which parameters would let
a tenant reach Secrets that are not its own.

Secrets named in the parameters are read on the host by the CSI external components with
their own rights, in whatever namespace the parameters say. A literal name/namespace pair is
translated to the tenant Secret's host copy; anything else (a template such as
`${pvc.annotations['…']}`, whose value the tenant picks per claim, or a key with no pair) could
name any Secret of the host namespace, the vcluster's own included, and is refused below
privileged.
"""

import datetime as dt
from collections.abc import Iterable, Set
from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.hostclasses.translate import from_host
from subkube.syncer.resources.pods.security import BASELINE, RESTRICTED, Violation

Obj = dict[str, Any]

DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_KEPT = (
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "volumeBindingMode",
    "allowVolumeExpansion",
    "mountOptions",
    "allowedTopologies",
)
# As the API server's StorageClass update validation has them; field -> what the API server
# takes an unset field for.
_IMMUTABLE = {
    "provisioner": None,
    "parameters": {},
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}
_MUTABLE = {"allowVolumeExpansion": None, "mountOptions": [], "allowedTopologies": []}


def wanted(vobj: Obj) -> bool:
    """Tenant classes only, not the host's mirrored inside."""
    return not from_host(vobj)


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str) -> Obj:
    meta = clusterscoped.cluster_metadata(
        vobj, kind="StorageClass", vcluster=vcluster, host_namespace=host_namespace
    )
    # On the host it would make claims of every tenant and of the host land in this class.
    for key in DEFAULT_ANNOTATIONS:
        meta["annotations"].pop(key, None)
    out: Obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta}
    out.update({f: json_copy(vobj[f]) for f in _KEPT if f in vobj})
    if parameters := vobj.get("parameters"):
        out["parameters"] = _host_parameters(parameters, vcluster, host_namespace)
    return out


def host_spec_update(desired: Obj, actual: Obj) -> clusterscoped.HostUpdate:
    """provisioner, parameters, reclaimPolicy and volumeBindingMode cannot change in place:
    Replace. Volumes already provisioned keep what they were made with, so replacing the
    class disturbs none."""
    return clusterscoped.replace_or_patch(desired, actual, immutable=_IMMUTABLE, mutable=_MUTABLE)


def _is_default(vobj: Obj) -> bool:
    annotations = vobj.get("metadata", {}).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_ANNOTATIONS)


def _created(vobj: Obj) -> dt.datetime:
    stamp = vobj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(stamp)


def default_class(virtual_classes: Iterable[Obj]) -> str | None:
    """The class a claim naming none gets inside, as the DefaultStorageClass admission
    chooses it: of the classes marked default, the newest, and of equally new ones the
    first by name."""
    defaults = [c for c in virtual_classes if _is_default(c)]
    if not defaults:
        return None
    newest = min(defaults, key=lambda c: (-_created(c).timestamp(), c["metadata"]["name"]))
    return str(newest["metadata"]["name"])


def claim_class(
    storage_class_name: str, *, synced: Set[str], vcluster: str, host_namespace: str
) -> str:
    """A claim's or volume's storageClassName on the host: the host name of the tenant's
    class when that class is copied to the host (in SYNCED), else the name as it is (a host
    class, or '' for no class). A name any vcluster's copy could have never passes as it is:
    a claim naming another tenant's class would be provisioned with that tenant's parameters
    and Secrets, or bind its volumes. It stands for a class of the tenant's own, which the
    host has only if the tenant has it."""
    if storage_class_name in synced or storage_class_name.startswith(names.CLUSTER_PREFIX):
        return names.host_cluster_name(storage_class_name, host_namespace, vcluster)
    return storage_class_name


def virtual_class_names(
    synced: Iterable[str], *, vcluster: str, host_namespace: str
) -> dict[str, str]:
    """Host name -> virtual name of every class in SYNCED: claim_class read backwards."""
    return {names.host_cluster_name(n, host_namespace, vcluster): n for n in synced}


def _secret_keys(parameters: dict[str, str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The parameters naming Secrets: pairs by common stem ({'name': key, 'namespace': key}),
    as in csi.storage.k8s.io/node-publish-secret-name/-namespace or the older
    csiNodePublishSecretName/-Namespace, and keys that mention a secret but form no pair."""
    pairs: dict[str, dict[str, str]] = {}
    loose: list[str] = []
    for key in parameters:
        low = key.lower()
        if "secret" not in low:
            continue
        part = "namespace" if low.endswith("namespace") else "name" if low.endswith("name") else ""
        if part:
            pairs.setdefault(low[: -len(part)], {})[part] = key
        else:
            loose.append(key)
    for stem in [s for s, pair in pairs.items() if len(pair) < 2]:
        loose.extend(pairs.pop(stem).values())
    return pairs, loose


def _literal(value: str) -> bool:
    return "${" not in value


def _host_parameters(parameters: dict[str, str], vcluster: str, host_namespace: str) -> Obj:
    out = dict(parameters)
    pairs, _ = _secret_keys(parameters)
    for pair in pairs.values():
        name, namespace = parameters[pair["name"]], parameters[pair["namespace"]]
        if _literal(name) and _literal(namespace):
            out[pair["name"]] = names.host_name(name, namespace, vcluster)
            out[pair["namespace"]] = host_namespace
    return out


def secret_references(vobj: Obj) -> list[tuple[str, str]]:
    """(namespace, name) of the tenant Secrets the host copy names: they must be synced."""
    parameters = vobj.get("parameters") or {}
    pairs, _ = _secret_keys(parameters)
    refs = [(parameters[p["namespace"]], parameters[p["name"]]) for p in pairs.values()]
    return sorted({r for r in refs if _literal(r[0]) and _literal(r[1])})


def refusal(vobj: Obj, level: str) -> str | None:
    """Why the class must not reach the host at LEVEL, or None: secret parameters that are
    not a literal name/namespace pair (see the module docstring)."""
    if level not in (BASELINE, RESTRICTED):
        return None
    parameters = vobj.get("parameters") or {}
    pairs, loose = _secret_keys(parameters)
    for pair in pairs.values():
        if not all(_literal(parameters[key]) for key in pair.values()):
            loose.extend(pair.values())
    found = [Violation(f"parameters[{key}]", level) for key in sorted(loose)]
    return "; ".join(str(v) for v in found) or None
