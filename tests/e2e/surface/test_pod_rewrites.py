"""Pod rewrites users ask for: sync.toHost.pods.translateImage and enforceTolerations."""

import pytest

from tests.conftest import wait_for
from tests.e2e.surface.conftest import Lab

pytestmark = pytest.mark.e2e


def test_images_are_rewritten_and_tolerations_enforced_on_the_host(lab: Lab) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rewritten", "namespace": "default"},
        "spec": {
            "initContainers": [{"name": "init", "image": "ghcr.io/acme/tool:v2"}],
            "containers": [
                {"name": "web", "image": "nginx:1.27"},
                {"name": "own", "image": "registry.example/team/app:1"},
            ],
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoExecute"}],
        },
    }
    lab.apply(pod)
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "rewritten", "default"))
    images = {
        c["name"]: c["image"] for g in ("initContainers", "containers") for c in hpod["spec"][g]
    }
    assert images == {
        "init": "mirror.local/acme/tool:v2",
        "web": "mirror.local/library/nginx:1.27",
        "own": "registry.example/team/app:1",
    }
    tolerations = hpod["spec"]["tolerations"]
    assert {
        "key": "dedicated",
        "operator": "Equal",
        "value": "tenants",
        "effect": "NoSchedule",
    } in tolerations
    spot = [t for t in tolerations if t.get("key") == "spot"]
    assert len(spot) == 1, "an enforced toleration the pod already has is not doubled"
    wait_for(
        "the pod Running inside",
        lambda: (
            lab.v("get", "pod", "rewritten", "-o", "jsonpath={.status.phase}").stdout == "Running"
        ),
    )
    inside = lab.v_json("get", "pod", "rewritten")
    assert inside["spec"]["containers"][0]["image"] == "nginx:1.27", "the tenant's spec stays"

    # A new image inside is rewritten the same way on the running host pod.
    lab.v("set", "image", "pod/rewritten", "web=nginx:1.28")
    wait_for(
        "the new image on the host",
        lambda: (
            (lab.host_obj("pod", "rewritten", "default") or {})
            .get("spec", {})
            .get("containers", [{}])[0]
            .get("image")
            == "mirror.local/library/nginx:1.28"
        ),
    )
