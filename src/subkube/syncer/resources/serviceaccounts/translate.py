"""ServiceAccount virtual -> host (pure).

One host ServiceAccount per virtual one (sync.toHost.serviceAccounts), for what the host
reads from a pod's ServiceAccount: cloud workload identity (`eks.amazonaws.com/role-arn`,
`iam.gke.io/gcp-service-account`, … annotations, kept as they are) and image pull Secrets
(renamed to their host copies). It never yields host API tokens: automount is off on the
host copy, and tenant pods get their tokens from the virtual API server.
"""

from typing import Any

from subkube.syncer import names

Obj = dict[str, Any]

# Restricts the pods of the ServiceAccount to the Secrets listed in its `secrets`, which
# the host copy does not carry: the host pods could mount no Secret at all.
_DROPPED_ANNOTATIONS = ("kubernetes.io/enforce-mountable-secrets",)
# Top-level fields of the host copy that follow the virtual object.
_UPDATED = ("automountServiceAccountToken", "imagePullSecrets")


def to_host(vobj: Obj, *, vcluster: str, host_namespace: str, owner: Obj | None) -> Obj:
    namespace = vobj["metadata"]["namespace"]
    meta = names.host_metadata(
        vobj, kind="ServiceAccount", vcluster=vcluster, host_namespace=host_namespace, owner=owner
    )
    for key in _DROPPED_ANNOTATIONS:
        meta["annotations"].pop(key, None)
    out: Obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }
    pull = [
        {"name": names.host_name(s["name"], namespace, vcluster)}
        for s in vobj.get("imagePullSecrets") or []
        if s.get("name")
    ]
    if pull:
        out["imagePullSecrets"] = pull
    return out


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """Merge patch for the host copy's automount and image pull Secrets (null removes)."""
    patch = {f: desired.get(f) for f in _UPDATED if desired.get(f) != actual.get(f)}
    return patch or None
