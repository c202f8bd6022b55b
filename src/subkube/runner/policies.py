"""config.policies applied by the local runner (the chart renders the same objects).

ResourceQuota, LimitRange and NetworkPolicy live in the host namespace, owned by the
vcluster's Service. The Pod Security Standard is the syncer's to enforce (and the host
namespace's); the virtual API server's admission only refuses the same pods sooner.
"""

from pathlib import Path
from typing import Any

import yaml

from subkube.config.model import Policies
from subkube.syncer import names

Obj = dict[str, Any]


def host_objects(
    policies: Policies, *, vcluster: str, namespace: str, owner: Obj
) -> list[tuple[str, Obj]]:
    """(plural, object) pairs for the enabled host-side policies."""
    meta = {
        "namespace": namespace,
        "labels": {"subkube.io/vcluster": vcluster},
        "ownerReferences": [names.owner_reference(owner)],
    }
    out: list[tuple[str, Obj]] = []
    if policies.resourceQuota.enabled:
        out.append(
            (
                "resourcequotas",
                {
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": {"name": f"subkube-{vcluster}", **meta},
                    "spec": {"hard": {k: str(v) for k, v in policies.resourceQuota.quota.items()}},
                },
            )
        )
    if policies.limitRange.enabled:
        out.append(
            (
                "limitranges",
                {
                    "apiVersion": "v1",
                    "kind": "LimitRange",
                    "metadata": {"name": f"subkube-{vcluster}", **meta},
                    "spec": {
                        "limits": [
                            {
                                "type": "Container",
                                "default": policies.limitRange.default,
                                "defaultRequest": policies.limitRange.defaultRequest,
                            }
                        ]
                    },
                },
            )
        )
    if policies.networkPolicy.enabled:
        tenant = {"podSelector": {"matchLabels": {names.LABEL_MANAGED_BY: vcluster}}}
        out.append(
            (
                "networkpolicies",
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"subkube-{vcluster}-workloads", **meta},
                    "spec": {
                        "podSelector": {"matchLabels": {names.LABEL_MANAGED_BY: vcluster}},
                        "policyTypes": ["Ingress", "Egress"],
                        # Tenant pods reach each other and the world, not other tenants' pods.
                        "ingress": [{"from": [tenant]}],
                        "egress": [{"to": [tenant]}, {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
                    },
                },
            )
        )
    return out


def admission_config(level: str, path: Path) -> Path:
    """An AdmissionConfiguration making LEVEL the default Pod Security Standard."""
    defaults = {}
    for mode in ("enforce", "audit", "warn"):
        defaults[mode] = level
        defaults[f"{mode}-version"] = "latest"
    pod_security = {
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": defaults,
        # No exemptions: the syncer refuses what breaks the level in every namespace (the
        # vcluster's own DNS complies), so admission says the same, only sooner.
        "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": []},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "AdmissionConfiguration",
                "plugins": [{"name": "PodSecurity", "configuration": pod_security}],
            },
            sort_keys=False,
        )
    )
    return path
