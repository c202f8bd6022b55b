"""sync.toHost.podDisruptionBudgets: a tenant's budget is copied to the host, scoped to the
tenant's pods, its bound as an integer minAvailable the syncer computes; the host's
disruption controller counts them, and what it writes is what the tenant sees inside and
what evictions inside (`kubectl drain`, the eviction API) obey, and it never blocks the
host admin's evictions more than the tenant's budget means."""

import json
import subprocess

import pytest

from subkube.syncer import names
from tests.conftest import wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e

NAMESPACE = "budgets"


def deployment(replicas: int, namespace: str = NAMESPACE) -> dict:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def budget(min_available: int | None = None, namespace: str = NAMESPACE, **bound: object) -> dict:
    if min_available is not None:
        bound["minAvailable"] = min_available
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {**bound, "selector": {"matchLabels": {"app": "web"}}},
    }


def ready_pods(lab: Lab, namespace: str = NAMESPACE) -> list[str]:
    pods = lab.v_json("-n", namespace, "get", "pods", "-l", "app=web")["items"]
    return [
        p["metadata"]["name"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    ]


def two_ready(lab: Lab) -> list[str] | None:
    ready = ready_pods(lab)
    return ready if len(ready) == 2 else None


def allowed_disruptions(lab: Lab, namespace: str = NAMESPACE) -> str | None:
    """ALLOWED DISRUPTIONS of `kubectl get pdb web`, once the status is of its generation."""
    pdb = lab.v_json("-n", namespace, "get", "pdb", "web")
    status = pdb.get("status") or {}
    if status.get("observedGeneration") != pdb["metadata"]["generation"]:
        return None
    header, row = lab.v("-n", namespace, "get", "pdb", "web").stdout.splitlines()
    at = header.index("ALLOWED DISRUPTIONS")
    return row[at:].split()[0]


def evict(lab: Lab, pod: str) -> subprocess.CompletedProcess[str]:
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": NAMESPACE},
    }
    return lab.v(
        "create",
        "--raw",
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/eviction",
        "-f",
        "-",
        stdin=json.dumps(eviction),
        check=False,
    )


def test_evictions_inside_obey_the_hosts_count(lab: Lab) -> None:
    lab.v("create", "namespace", NAMESPACE)
    lab.apply(deployment(2))
    pods = wait_for("2 pods Ready inside", lambda: two_ready(lab))
    lab.apply(budget(2))

    host = wait_for("the host budget", lambda: lab.host_obj("pdb", "web", NAMESPACE))
    selector = host["spec"]["selector"]["matchLabels"]
    assert selector["app"] == "web"
    assert selector["subkube.io/namespace"] == NAMESPACE
    wait_for(
        "the host's disruption controller counting the 2 host pods",
        lambda: (
            (lab.host_obj("pdb", "web", NAMESPACE) or {}).get("status", {}).get("currentHealthy")
            == 2
        ),
    )
    wait_for("ALLOWED DISRUPTIONS 0 inside", lambda: allowed_disruptions(lab) == "0")
    inside = lab.v_json("-n", NAMESPACE, "get", "pdb", "web", "--show-managed-fields")
    assert (inside["status"]["currentHealthy"], inside["status"]["desiredHealthy"]) == (2, 2)
    writers = {
        f["manager"]
        for f in inside["metadata"]["managedFields"]
        if f.get("subresource") == "status"
    }
    assert writers, "the status came from the host"
    assert "kube-controller-manager" not in writers, "no disruption controller inside"

    refused = evict(lab, pods[0])
    assert refused.returncode != 0
    assert "disruption budget" in refused.stderr, refused.stderr
    assert pods[0] in ready_pods(lab), "the pod stays"

    # A smaller budget leaves one disruption: the eviction goes, and the Deployment
    # replaces the pod.
    lab.apply(budget(1))
    wait_for("ALLOWED DISRUPTIONS 1 inside", lambda: allowed_disruptions(lab) == "1")
    granted = evict(lab, pods[0])
    assert granted.returncode == 0, granted.stderr
    wait_for("the evicted pod replaced", lambda: pods[0] not in (two_ready(lab) or pods))
    wait_for(
        "the evicted pod gone from the host",
        lambda: lab.host_obj("pod", pods[0], NAMESPACE) is None,
    )


def host_eviction(lab: Lab, host_pod: str) -> subprocess.CompletedProcess[str]:
    """The host admin's eviction of a host pod (what `kubectl drain` sends)."""
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": host_pod, "namespace": NS},
    }
    return lab.host(
        "create",
        "--raw",
        f"/api/v1/namespaces/{NS}/pods/{host_pod}/eviction",
        "-f",
        "-",
        stdin=json.dumps(eviction),
        check=False,
    )


def test_max_unavailable_reaches_the_host_as_min_available(lab: Lab) -> None:
    """The host's disruption controller computes no maxUnavailable budget over pods no
    controller owns (it would allow nothing, and block the host admin's drains for good):
    the syncer counts the tenant's pods and gives the host the integer bound it means."""
    namespace = "budgets-max"
    lab.v("create", "namespace", namespace)
    lab.apply(deployment(3, namespace))
    wait_for("3 pods Ready inside", lambda: len(ready_pods(lab, namespace)) == 3)
    lab.apply(budget(namespace=namespace, maxUnavailable=1))

    def host_budget() -> dict | None:
        host = lab.host_obj("pdb", "web", namespace) or {}
        return host if (host.get("spec") or {}).get("minAvailable") == 2 else None

    host = wait_for("minAvailable 2 on the host", host_budget)
    assert "maxUnavailable" not in host["spec"]
    assert host["spec"]["selector"]["matchLabels"]["subkube.io/namespace"] == namespace
    wait_for(
        "the host's disruption controller allowing 1 of the 3 host pods",
        lambda: (
            ((lab.host_obj("pdb", "web", namespace) or {}).get("status") or {}).get(
                "disruptionsAllowed"
            )
            == 1
        ),
    )
    wait_for("ALLOWED DISRUPTIONS 1 inside", lambda: allowed_disruptions(lab, namespace) == "1")
    inside = lab.v_json("-n", namespace, "get", "pdb", "web")
    assert inside["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    status = inside["status"]
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (
        3,
        2,
        3,
    )

    # The host admin evicts one of the tenant's host pods: the budget allows it.
    victim = ready_pods(lab, namespace)[0]
    host_pod = names.host_name(victim, namespace, VC)
    assert lab.host_obj("pod", victim, namespace) is not None
    evicted = host_eviction(lab, host_pod)
    assert evicted.returncode == 0, evicted.stderr
    wait_for(
        "the evicted pod gone from the host",
        lambda: lab.host_obj("pod", victim, namespace) is None,
    )
    # The Deployment replaces it inside, and the budget is again one of three.
    wait_for(
        "3 pods Ready inside again",
        lambda: len(ready := ready_pods(lab, namespace)) == 3 and victim not in ready,
    )
    wait_for(
        "ALLOWED DISRUPTIONS 1 inside again", lambda: allowed_disruptions(lab, namespace) == "1"
    )
    assert host_budget() is not None
