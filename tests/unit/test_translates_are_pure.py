"""Every kind's to_host leaves the virtual object it is given as it was: the engine hands it
the object its cache decoded for this reconcile, and goes on to use that object afterwards
(status back, tokens, events), without a copy of its own."""

import dataclasses
from typing import Any

import pytest

from subkube.kube.copying import json_copy
from subkube.syncer.resources.configmaps import translate as configmaps
from subkube.syncer.resources.customresources import translate as customresources
from subkube.syncer.resources.endpoints import translate as endpoints
from subkube.syncer.resources.ingresses import translate as ingresses
from subkube.syncer.resources.networkpolicies import translate as networkpolicies
from subkube.syncer.resources.persistentvolumeclaims import translate as pvcs
from subkube.syncer.resources.persistentvolumes import translate as pvs
from subkube.syncer.resources.poddisruptionbudgets import translate as pdbs
from subkube.syncer.resources.pods import translate as pods
from subkube.syncer.resources.priorityclasses import translate as priorityclasses
from subkube.syncer.resources.secrets import translate as secrets
from subkube.syncer.resources.serviceaccounts import translate as serviceaccounts
from subkube.syncer.resources.services import translate as services
from subkube.syncer.resources.storageclasses import translate as storageclasses
from tests.unit.test_pod_translate import CTX, vpod

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
NAMESPACED = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER}
CLUSTER = {"vcluster": "vc1", "host_namespace": "team-a"}
SELECTOR = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "t", "operator": "Exists"}]}


def meta(name: str, namespace: str | None = "demo") -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "r"}
        ],
        "finalizers": ["example.com/keep"],
    }
    if namespace:
        out["namespace"] = namespace
    return out


# Every option that makes the pod's translation do more.
POD_CONTEXT = dataclasses.replace(
    CTX,
    enforce_tolerations=[{"key": "tenant", "operator": "Exists"}],
    translate_image={"nginx": "mirror/nginx"},
    service_accounts=True,
    priority_classes=True,
)

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("pods", lambda o: pods.to_host(o, POD_CONTEXT), vpod()),
    (
        "configmaps",
        lambda o: configmaps.to_host(o, **NAMESPACED),
        {"metadata": meta("cfg"), "data": {"k": "v"}, "binaryData": {"b": "AA=="}},
    ),
    (
        "secrets",
        lambda o: secrets.to_host(o, **NAMESPACED),
        {"metadata": meta("creds"), "type": "Opaque", "data": {"k": "dg=="}},
    ),
    (
        "services",
        lambda o: services.to_host(o, **NAMESPACED),
        {
            "metadata": meta("web"),
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": "10.96.5.6",
                "selector": {"tier": "front"},
                "sessionAffinity": "ClientIP",
                "loadBalancerSourceRanges": ["10.0.0.0/8"],
                "ports": [{"name": "https", "port": 443, "nodePort": 30443}],
            },
        },
    ),
    (
        "endpoints",
        lambda o: endpoints.to_host(o, **NAMESPACED),
        {
            "metadata": meta("web"),
            "subsets": [
                {
                    "addresses": [
                        {
                            "ip": "10.0.0.1",
                            "targetRef": {"kind": "Pod", "name": "p", "namespace": "demo"},
                        }
                    ],
                    "ports": [{"port": 80}],
                }
            ],
        },
    ),
    (
        "serviceaccounts",
        lambda o: serviceaccounts.to_host(o, **NAMESPACED),
        {
            "metadata": meta("builder"),
            "imagePullSecrets": [{"name": "regcred"}],
            "secrets": [{"name": "s"}],
        },
    ),
    (
        "ingresses",
        lambda o: ingresses.to_host(o, **NAMESPACED),
        {
            "metadata": meta("web"),
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                "tls": [{"hosts": ["a.example"], "secretName": "tls"}],
                "rules": [
                    {
                        "host": "a.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
            },
        },
    ),
    (
        "networkpolicies",
        lambda o: networkpolicies.to_host(
            o, **NAMESPACED, namespaces=[{"metadata": meta("demo", None)}]
        ),
        {
            "metadata": meta("deny"),
            "spec": {
                "podSelector": SELECTOR,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": SELECTOR},
                            {"namespaceSelector": SELECTOR, "podSelector": SELECTOR},
                        ]
                    }
                ],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 53}]}],
            },
        },
    ),
    (
        "persistentvolumeclaims",
        lambda o: pvcs.to_host(o, **NAMESPACED, storage_classes={"fast"}, volumes={"pv-1"}),
        {
            "metadata": meta("data"),
            "spec": {
                "storageClassName": "fast",
                "volumeName": "pv-1",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "selector": SELECTOR,
                "dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "src"},
            },
        },
    ),
    (
        "persistentvolumes",
        lambda o: pvs.to_host(o, **CLUSTER, storage_classes={"fast"}),
        {
            "metadata": meta("pv-1", None),
            "spec": {
                "storageClassName": "fast",
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/data"},
                "claimRef": {"kind": "PersistentVolumeClaim", "name": "data", "namespace": "demo"},
            },
        },
    ),
    (
        "poddisruptionbudgets",
        lambda o: pdbs.to_host(o, **NAMESPACED, pods=[vpod()]),
        {"metadata": meta("budget"), "spec": {"minAvailable": 1, "selector": SELECTOR}},
    ),
    (
        "priorityclasses",
        lambda o: priorityclasses.to_host(o, **CLUSTER, max_value=10),
        {"metadata": meta("high", None), "value": 1000, "preemptionPolicy": "Never"},
    ),
    (
        "storageclasses",
        lambda o: storageclasses.to_host(o, **CLUSTER),
        {
            "metadata": meta("fast", None),
            "provisioner": "example.com/disk",
            "parameters": {"type": "ssd"},
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "z", "values": ["a"]}]}],
        },
    ),
    (
        "customresources",
        lambda o: customresources.to_host(o, kind="Widget", **NAMESPACED),
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": meta("w"),
            "spec": {"size": 3, "parts": [{"name": "a", "tags": ["x"]}]},
            "status": {"ready": True},
        },
    ),
]


@pytest.mark.parametrize(("kind", "to_host", "vobj"), CASES, ids=[c[0] for c in CASES])
def test_to_host_leaves_its_input_as_it_was(kind: str, to_host: Any, vobj: dict[str, Any]) -> None:
    given = json_copy(vobj)
    desired = to_host(given)
    assert given == vobj, f"{kind}: to_host changed the virtual object"
    # What the engine does next to the host object must not reach the virtual one either.
    desired.setdefault("metadata", {}).setdefault("annotations", {})["later"] = "x"
    for value in desired.values():
        if isinstance(value, dict):
            value["injected-later"] = True
    assert given == vobj, f"{kind}: the host object shares a part with the virtual one"
