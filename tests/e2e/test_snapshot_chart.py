"""Snapshot and restore with `--driver helm` on a local host: the archive leaves and enters
the chart's pod through `kubectl exec`, and the host's runtime restarts the runner's
container to apply it. Restored in place (later changes undone) and as a new vcluster in
another namespace; checked inside with kubectl and on the host."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.conftest import wait_for
from tests.e2e.lab import WEB_IN_SHOP
from tests.e2e.test_chart import CHART, helm
from tests.e2e.test_snapshot_cli import Lab, running_pods

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("runner_image")]

HOST = "snapchart"
NAME, NS = "vh", "team-h"
APP = (
    WEB_IN_SHOP
    + """---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
"""
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("snapchart"))
    with lab.running(HOST, nodes=1):
        yield lab


def inside(lab: Lab, name: str, namespace: str) -> dict[str, Any]:
    return {
        "replicas": lab.v_json(name, namespace, "-n", "shop", "get", "deployment", "web")["spec"][
            "replicas"
        ],
        "secret": lab.v_json(name, namespace, "-n", "shop", "get", "secret", "db")["data"],
        "configmaps": sorted(
            c["metadata"]["name"]
            for c in lab.v_json(name, namespace, "-n", "shop", "get", "configmaps")["items"]
        ),
    }


def translated_pods_only(lab: Lab, name: str, namespace: str) -> bool:
    """Besides the runner's own pod, the host namespace holds exactly one Running copy of
    each pod inside and nothing else."""
    virtual = lab.v_json(name, namespace, "get", "pods", "-A")["items"]
    want = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in virtual)
    host = [p for p in lab.host_pods(namespace) if p["metadata"]["name"] != f"{name}-0"]
    got = sorted(
        (
            p["metadata"]["annotations"].get("subkube.io/object-namespace"),
            p["metadata"]["annotations"].get("subkube.io/object-name"),
        )
        for p in host
        if p["metadata"]["labels"].get("subkube.io/managed-by") == name
    )
    return got == want and len(running_pods(host)) == len(host) == len(want) >= 2


@pytest.fixture(scope="module")
def snapshot(lab: Lab) -> dict[str, Any]:
    """The vcluster, filled and snapshotted to a file, while it runs in the chart's pod."""
    lab.ok("create", NAME, "-n", NS, "--driver", "helm", "--no-connect")
    lab.v(NAME, NS, "create", "namespace", "shop")
    lab.v(NAME, NS, "apply", "-f", "-", stdin=APP)
    wait_for("the tenant's pods on the host", lambda: translated_pods_only(lab, NAME, NS))
    before = inside(lab, NAME, NS)
    lab.ok("snapshot", "create", NAME, "-n", NS, "--to", f"file://{lab.snapshots}/")
    (archive,) = lab.snapshots.iterdir()
    return {"inside": before, "url": f"file://{archive}"}


def test_restore_in_place_undoes_later_changes(lab: Lab, snapshot: dict[str, Any]) -> None:
    lab.v(NAME, NS, "-n", "shop", "scale", "deployment", "web", "--replicas=3")
    lab.v(NAME, NS, "-n", "shop", "create", "configmap", "later")
    wait_for("a third web pod", lambda: len(running_pods(lab.host_pods(NS, "app=web"))) == 3)
    runner = lab.host_json("-n", NS, "get", "pod", f"{NAME}-0")
    out = lab.ok("restore", NAME, "-n", NS, "--from", snapshot["url"])
    assert f"runs on the snapshot of {NS}/{NAME}" in out
    assert inside(lab, NAME, NS) == snapshot["inside"]
    wait_for("the host back at two pods", lambda: translated_pods_only(lab, NAME, NS))
    # The container restarted (the host's runtime counts it, as a kubelet does), not the pod.
    restarted = lab.host_json("-n", NS, "get", "pod", f"{NAME}-0")
    assert restarted["metadata"]["uid"] == runner["metadata"]["uid"]
    assert [c["restartCount"] for c in restarted["status"]["containerStatuses"]] == [
        c["restartCount"] + 1 for c in runner["status"]["containerStatuses"]
    ]


def test_restore_as_a_new_helm_vcluster_in_another_namespace(
    lab: Lab, snapshot: dict[str, Any]
) -> None:
    new, namespace = "vh2", "team-i"
    out = lab.ok(
        "restore",
        NAME,
        "-n",
        namespace,
        "--from",
        snapshot["url"],
        "--as",
        new,
        "--driver",
        "helm",
        "--no-connect",
    )
    assert f"runs on the snapshot of {NS}/{NAME}" in out
    assert inside(lab, new, namespace) == snapshot["inside"]
    wait_for(f"{new}'s pods on the host", lambda: translated_pods_only(lab, new, namespace))
    releases = json.loads(
        helm("list", "-n", namespace, "-o", "json", kubeconfig=lab.host_kc).stdout
    )
    assert [r["name"] for r in releases] == [new]


def test_the_chart_passes_the_snapshot_credentials_secret() -> None:
    """Scheduled snapshots run in the pod: their S3 settings come from a Secret the chart
    hands the container as its environment."""

    def container(*sets: str) -> dict[str, Any]:
        rendered = helm("template", "vc1", str(CHART), *sets).stdout
        sts = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "StatefulSet")
        return dict(sts["spec"]["template"]["spec"]["containers"][0])

    assert "envFrom" not in container()
    assert container("--set", "snapshots.credentialsSecret=s3-creds")["envFrom"] == [
        {"secretRef": {"name": "s3-creds"}}
    ]
