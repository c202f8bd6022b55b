"""PersistentVolumes a tenant creates inside, copied to the host (pure): which are the
tenant's, the host copy, what the vcluster's security level refuses, how the host copy is
brought up to date, and what flows back (status, and the claim the host bound it to).

A PV names storage the host's nodes and drivers reach with their own rights, so what a
tenant's PV may name is the isolation boundary:
- The node's own disk (hostPath, local) is refused below privileged, as Pod Security's
  baseline refuses hostPath volumes in pods.
- A claimRef can only ever name one of the vcluster's own claims: it names a virtual
  namespace and claim, and the host copy names that claim's host copy in the vcluster's host
  namespace. No value of it reaches a claim of another namespace.
- Secrets named in the source are read by the kubelet or the CSI driver with their rights.
  Those that name a namespace are translated to the tenant Secret's host copy; those that
  name none are read from the namespace of the pod, which on the host is the vcluster's own
  namespace, so they are refused below privileged.
- A volume with no claimRef is there for any claim on the host that fits it, of any
  namespace: the host's PV controller prefers it to provisioning a new one. Someone else's
  data could then land on storage the tenant controls. Below privileged such a volume must
  either name its claim or be of one of the tenant's own classes, which only claims that
  name that class (by its host name) can bind.
"""

import re
from collections.abc import Iterator, Set
from decimal import Decimal, InvalidOperation
from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import clusterscoped, names
from subkube.syncer.resources.persistentvolumeclaims.translate import VOLUME_DRIVER, VOLUME_LABEL
from subkube.syncer.resources.pods.security import BASELINE, RESTRICTED, Violation
from subkube.syncer.resources.storageclasses.translate import claim_class

Obj = dict[str, Any]

# Sources on the node's own disk.
_NODE_SOURCES = ("hostPath", "local")
# Written by the host's PV controller and provisioners. provisioned-by (and the deletion
# secrets that go with it) would also let a host provisioner delete, on the tenant's word,
# whatever storage the volume names when it is released.
_HOST_ANNOTATIONS = (
    "pv.kubernetes.io/bound-by-controller",
    "pv.kubernetes.io/provisioned-by",
    "pv.kubernetes.io/migrated-to",
    "volume.kubernetes.io/provisioner-deletion-secret-name",
    "volume.kubernetes.io/provisioner-deletion-secret-namespace",
)
# Mutable after creation, as the API server's PersistentVolume update validation has them;
# field -> what the API server takes an unset field for. capacity, claimRef and nodeAffinity
# have rules of their own below.
_MUTABLE = {
    "accessModes": [],
    "persistentVolumeReclaimPolicy": "Retain",
    "storageClassName": "",
    "mountOptions": [],
}
_STATUS = ("phase", "message", "reason")


def is_shown_volume(vobj: Obj) -> bool:
    """A volume the syncer shows inside for a bound claim (persistentvolumeclaims'
    virtual_volume): it stands for a host volume, it is not the tenant's. Its driver marks
    it too, in case the tenant takes the label off: nothing could mount it anyway."""
    labels = vobj.get("metadata", {}).get("labels") or {}
    driver = ((vobj.get("spec") or {}).get("csi") or {}).get("driver")
    return labels.get(VOLUME_LABEL) == "true" or driver == VOLUME_DRIVER


def wanted(vobj: Obj) -> bool:
    return not is_shown_volume(vobj)


def _secret_refs(spec: Obj) -> Iterator[tuple[str, Obj]]:
    """(field path, reference) of every Secret a source names by a SecretReference-like
    object (csi's five *SecretRef, cephfs/rbd/iscsi/flexVolume/scaleIO/storageos secretRef)."""
    for source, value in spec.items():
        if source == "claimRef" or not isinstance(value, dict):
            continue
        for key, ref in value.items():
            if (key == "secretRef" or key.endswith("SecretRef")) and isinstance(ref, dict):
                yield f"spec.{source}.{key}", ref


def secret_references(vobj: Obj) -> list[tuple[str, str]]:
    """(namespace, name) of the tenant Secrets the host copy names: they must be synced."""
    spec = vobj.get("spec") or {}
    refs = {(r["namespace"], r["name"]) for _, r in _secret_refs(spec) if r.get("namespace")}
    azure = spec.get("azureFile") or {}
    if azure.get("secretNamespace"):
        refs.add((azure["secretNamespace"], azure["secretName"]))
    return sorted(refs)


def _translate_secrets(spec: Obj, vcluster: str, host_namespace: str) -> None:
    for _, ref in _secret_refs(spec):
        if ref.get("namespace"):
            ref["name"] = names.host_name(ref["name"], ref["namespace"], vcluster)
            ref["namespace"] = host_namespace
    azure = spec.get("azureFile") or {}
    if azure.get("secretNamespace"):
        azure["secretName"] = names.host_name(
            azure["secretName"], azure["secretNamespace"], vcluster
        )
        azure["secretNamespace"] = host_namespace


def host_claim_ref(claim_ref: Obj, *, vcluster: str, host_namespace: str) -> Obj:
    """A claimRef naming the virtual claim, made to name its host copy. uid and
    resourceVersion go: the host claim is another object."""
    out = {k: v for k, v in claim_ref.items() if k not in ("uid", "resourceVersion")}
    out["name"] = names.host_name(
        claim_ref.get("name", ""), claim_ref.get("namespace", ""), vcluster
    )
    out["namespace"] = host_namespace
    return out


def to_host(
    vobj: Obj,
    *,
    vcluster: str,
    host_namespace: str,
    storage_classes: Set[str] = frozenset(),
) -> Obj:
    """STORAGE_CLASSES: the tenant's classes copied to the host (see claim_class)."""
    meta = clusterscoped.cluster_metadata(
        vobj, kind="PersistentVolume", vcluster=vcluster, host_namespace=host_namespace
    )
    for key in _HOST_ANNOTATIONS:
        meta["annotations"].pop(key, None)
    spec = json_copy(vobj.get("spec") or {})
    if claim_ref := spec.get("claimRef"):
        spec["claimRef"] = host_claim_ref(
            claim_ref, vcluster=vcluster, host_namespace=host_namespace
        )
    if spec.get("storageClassName"):
        spec["storageClassName"] = claim_class(
            spec["storageClassName"],
            synced=storage_classes,
            vcluster=vcluster,
            host_namespace=host_namespace,
        )
    _translate_secrets(spec, vcluster, host_namespace)
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec}


def refusal(vobj: Obj, level: str, *, storage_classes: Set[str] = frozenset()) -> str | None:
    """Why the volume must not reach the host at LEVEL (the vcluster's Pod Security level),
    or None; worded like pod refusals. See the module docstring for each rule."""
    if level not in (BASELINE, RESTRICTED):
        return None
    spec = vobj.get("spec") or {}
    found = [str(Violation(f"spec.{source}", level)) for source in _NODE_SOURCES if source in spec]
    found += [
        f"{path}.namespace: required by {level}"
        for path, ref in _secret_refs(spec)
        if not ref.get("namespace")
    ]
    azure = spec.get("azureFile") or {}
    if azure.get("secretName") and not azure.get("secretNamespace"):
        found.append(f"spec.azureFile.secretNamespace: required by {level}")
    if not spec.get("claimRef") and spec.get("storageClassName") not in storage_classes:
        found.append(
            f"spec.claimRef: required by {level} unless spec.storageClassName names one of "
            "the vcluster's own storage classes"
        )
    return "; ".join(found) or None


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    **{s: Decimal(2) ** (10 * (i + 1)) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}


def _quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity ('10Gi', '1.5T', '1e9'), or None when it is not one."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def _grown(desired: Obj | None, actual: Obj | None) -> Obj:
    """The capacities DESIRED raises above ACTUAL. Never lower: on the host the resizer
    raises a volume's capacity when its claim is expanded, and the tenant's older value must
    not undo that."""
    out: Obj = {}
    for resource, want in (desired or {}).items():
        have = (actual or {}).get(resource)
        want_q, have_q = _quantity(want), _quantity(have)
        if have is None or (want_q is not None and have_q is not None and want_q > have_q):
            out[resource] = want
    return out


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """A merge patch of what may change on a PV after creation, or None. The source,
    volumeMode and a set nodeAffinity are immutable inside as on the host, so the tenant
    cannot change them and they never need a replacement (which would also unbind the
    volume)."""
    want, have = desired.get("spec") or {}, actual.get("spec") or {}
    patch: Obj = {
        f: want.get(f)
        for f, default in _MUTABLE.items()
        if clusterscoped.value_or_default(want, f, default)
        != clusterscoped.value_or_default(have, f, default)
    }
    if grown := _grown(want.get("capacity"), have.get("capacity")):
        patch["capacity"] = grown
    # Once set on the host they are the host's: the PV controller fills in the claim's uid
    # as it binds, and node affinity cannot change.
    for f in ("claimRef", "nodeAffinity"):
        if want.get(f) and not have.get(f):
            patch[f] = want[f]
    # The one source field the API server lets be added later.
    expand = (want.get("csi") or {}).get("controllerExpandSecretRef")
    if expand and have.get("csi") and not have["csi"].get("controllerExpandSecretRef"):
        patch["csi"] = {"controllerExpandSecretRef": expand}
    return {"spec": patch} if patch else None


def status_to_virtual(vobj: Obj, hobj: Obj) -> Obj | None:
    """The virtual volume with the host's phase, message and reason, or None when it has
    them. The rest of its status (lastPhaseTransitionTime) is the virtual API server's."""
    hstatus, vstatus = hobj.get("status") or {}, vobj.get("status") or {}
    wanted_status = {k: hstatus[k] for k in _STATUS if k in hstatus}
    if wanted_status == {k: vstatus[k] for k in _STATUS if k in vstatus}:
        return None
    out = json_copy(vobj)
    out["status"] = {**{k: v for k, v in vstatus.items() if k not in _STATUS}, **wanted_status}
    return out


def claim_ref_to_virtual(hclaim: Obj, *, vcluster: str) -> Obj | None:
    """The claimRef the virtual volume gets when the host binds its copy to HCLAIM: the
    virtual claim HCLAIM was made from, or None when HCLAIM is not this vcluster's (another
    vcluster may share the host namespace)."""
    if not names.is_ours(hclaim, vcluster=vcluster):
        return None
    key = names.virtual_key(hclaim)
    if key is None or not key[0]:
        return None
    ref: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": key[0],
        "name": key[1],
    }
    # The recorded uid is the virtual claim's own, unless the claim is still being admitted.
    uid = names.recorded_uid(hclaim)
    if uid and uid != names.PENDING_UID:
        ref["uid"] = uid
    return ref
