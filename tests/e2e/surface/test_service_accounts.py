"""sync.toHost.serviceAccounts: a tenant pod runs on the host as the host copy of its own
ServiceAccount (cloud IAM annotations kept), its tokens still minted inside; a pod in a
namespace made a moment before runs as that namespace's `default` copy."""

import json

import pytest

from subkube.syncer import names
from subkube.syncer.resources.pods.translate import token_secret_name
from tests.conftest import wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e

ROLE = "eks.amazonaws.com/role-arn"
ARN = "arn:aws:iam::111122223333:role/builder"


def pod(name: str, namespace: str, service_account: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "registry.example/app:1"}]}
    if service_account:
        spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def running(lab: Lab, name: str, namespace: str) -> bool:
    phase = lab.v("-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}")
    return phase.stdout == "Running"


def test_a_pod_runs_on_the_host_as_the_copy_of_its_service_account(lab: Lab) -> None:
    lab.v("create", "namespace", "iam")
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": "iam", "annotations": {ROLE: ARN}},
        }
    )
    lab.apply(pod("build", "iam", "builder"))

    hsa = wait_for("the host ServiceAccount", lambda: lab.host_obj("sa", "builder", "iam"))
    assert hsa["metadata"]["annotations"][ROLE] == ARN
    assert hsa["automountServiceAccountToken"] is False
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "build", "iam"))
    spec = hpod["spec"]
    assert spec["serviceAccountName"] == hsa["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is False, "no host token mounted"
    # The token the tenant's pod reads is the virtual API server's, kept in its own Secret.
    token_secret = token_secret_name(hpod["metadata"]["name"])
    mounted = {
        source["secret"]["name"]
        for v in spec.get("volumes") or []
        for source in (v.get("projected") or {}).get("sources", [])
        if "secret" in source
    }
    assert token_secret in mounted
    wait_for(
        "the token Secret on the host",
        lambda: lab.host("-n", NS, "get", "secret", token_secret, check=False).returncode == 0,
    )
    wait_for("the pod Running inside", lambda: running(lab, "build", "iam"))


def test_a_pod_in_a_brand_new_namespace_runs_as_its_default_copy(lab: Lab) -> None:
    lab.v("create", "namespace", "fresh")
    # Inside, as in any cluster, a pod is refused until the namespace's `default`
    # ServiceAccount exists: create it the moment it is accepted.
    first = json.dumps(pod("first", "fresh"))
    wait_for(
        "the pod accepted inside",
        lambda: lab.v("apply", "-f", "-", stdin=first, check=False).returncode == 0,
    )
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "first", "fresh"))
    assert hpod["spec"]["serviceAccountName"] == names.host_name("default", "fresh", VC)
    assert lab.host_obj("sa", "default", "fresh") is not None
    wait_for("the pod Running inside", lambda: running(lab, "first", "fresh"))
    # It waited for its ServiceAccount's copy instead of failing at the host.
    log = (lab.state / "vclusters" / NS / VC / "vcluster.log").read_text()
    failed = [
        line
        for line in log.splitlines()
        if "reconcile failed" in line and "kind=pods" in line and "key=fresh/first" in line
    ]
    assert failed == []
