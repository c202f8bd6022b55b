"""Custom resources both ways (sync.toHost.customResources, sync.fromHost.customResources):
CRDs made for this test on the host before the vcluster exists, a small operator on the host
that writes status, and kubectl inside."""

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.syncer import names
from tests.conftest import kubectl, wait_for
from tests.e2e.surface.conftest import CONFIG, HOST_MANIFESTS, NS, VC, Lab

pytestmark = pytest.mark.e2e

GROUP = "acme.example.com"
WIDGETS, GADGETS, PLANS = f"widgets.{GROUP}", f"gadgets.{GROUP}", f"plans.{GROUP}"
RESOURCES = {"Widget": WIDGETS, "Gadget": GADGETS, "Plan": PLANS}
SHARED = "shared"  # the virtual namespace where the host namespace's gadgets appear


def definition(plural: str, kind: str, scope: str) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                # An older version still served: the syncer reads and writes the stored one.
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": schema},
                },
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                },
            ],
        },
    }


HOST_MANIFESTS += [
    definition("widgets", "Widget", "Namespaced"),
    definition("gadgets", "Gadget", "Namespaced"),
    definition("plans", "Plan", "Cluster"),
]
CONFIG["sync"]["toHost"]["customResources"] = {WIDGETS: {"enabled": True}}
CONFIG["sync"].setdefault("fromHost", {})["customResources"] = {
    GADGETS: {
        "enabled": True,
        "scope": "Namespaced",
        "namespace": SHARED,
        "selector": {"labels": {"tier": "shared"}},
    },
    PLANS: {"enabled": True, "scope": "Cluster", "selector": {"labels": {"tier": "shared"}}},
}


def operate(lab: Lab, stop: threading.Event) -> None:
    """The host's operator: every object's status echoes its spec's message."""
    while not stop.is_set():
        found = lab.host("get", f"{WIDGETS},{GADGETS},{PLANS}", "-A", "-o", "json", check=False)
        items = json.loads(found.stdout)["items"] if found.returncode == 0 else []
        for obj in items:
            message = obj.get("spec", {}).get("message")
            if (obj.get("status") or {}).get("echo") == message:
                continue
            meta = obj["metadata"]
            where = ["-n", meta["namespace"]] if "namespace" in meta else []
            lab.host(
                *where,
                "patch",
                RESOURCES[obj["kind"]],
                meta["name"],
                "--subresource=status",
                "--type=merge",
                "-p",
                json.dumps({"status": {"echo": message}}),
                check=False,
            )
        stop.wait(0.3)


@pytest.fixture(scope="module")
def operator(lab: Lab) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=operate, args=(lab, stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(30)


def inside(lab: Lab, resource: str, name: str, namespace: str | None = None) -> Any:
    args = ["-n", namespace] if namespace else []
    found = kubectl(lab.kc[VC], *args, "get", resource, name, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def host_object(lab: Lab, resource: str, name: str, namespace: str | None = NS) -> Any:
    args = ["-n", namespace] if namespace else []
    found = lab.host(*args, "get", resource, name, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def echo(obj: Any) -> Any:
    return ((obj or {}).get("status") or {}).get("echo")


def test_the_definitions_come_from_the_host(lab: Lab) -> None:
    crd = lab.v_json("get", "crd", WIDGETS)
    assert [(v["name"], v["served"], v["storage"]) for v in crd["spec"]["versions"]] == [
        ("v1alpha1", True, False),
        ("v1", True, True),
    ]
    assert crd["metadata"]["labels"]["subkube.io/from-host"] == "true"


def test_a_tenant_object_is_reconciled_by_the_hosts_operator(lab: Lab, operator: None) -> None:
    widget = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default", "labels": {"app": "shop"}},
        "spec": {"message": "hello", "size": 3},
    }
    lab.apply(widget)
    copy = wait_for("the host copy", lambda: lab.host_obj(WIDGETS, "w1", "default"))
    assert copy["metadata"]["name"] == names.host_name("w1", "default", VC)
    assert copy["spec"] == {"message": "hello", "size": 3}
    assert copy["metadata"]["labels"]["app"] == "shop"
    assert copy["metadata"]["labels"][names.LABEL_MANAGED_BY] == VC
    wait_for(
        "the operator's status inside",
        lambda: echo(inside(lab, WIDGETS, "w1", "default")) == "hello",
    )

    widget["spec"]["message"] = "again"
    lab.apply(widget)
    wait_for(
        "the new status inside",
        lambda: echo(inside(lab, WIDGETS, "w1", "default")) == "again",
    )
    assert echo(lab.host_obj(WIDGETS, "w1", "default")) == "again"
    described = json.loads(lab.cli("describe", VC, "-n", NS, "-o", "json").stdout)[0]
    assert described["synced"]["widgets"] == 1
    assert {"kind": "Widget", "virtual": "default/w1", "host": copy["metadata"]["name"]} in (
        described["mapping"]
    )

    lab.v("-n", "default", "delete", WIDGETS, "w1")
    wait_for("the host copy gone", lambda: lab.host_obj(WIDGETS, "w1", "default") is None)


def gadget(name: str, message: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gadget",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"message": message},
    }


def test_selected_host_objects_are_shown_read_only(lab: Lab, operator: None) -> None:
    lab.host("apply", "-f", "-", stdin=json.dumps(gadget("hidden", "not yours", {})))
    lab.host("apply", "-f", "-", stdin=json.dumps(gadget("g1", "shared", {"tier": "shared"})))
    seen = wait_for(
        "the copy inside, with the operator's status",
        lambda: (g := inside(lab, GADGETS, "g1", SHARED)) and echo(g) == "shared" and g,
    )
    assert seen["spec"] == {"message": "shared"}
    assert seen["metadata"]["labels"]["tier"] == "shared"
    # The unlabelled one was there before g1 and is not selected.
    assert host_object(lab, GADGETS, "hidden") is not None
    assert inside(lab, GADGETS, "hidden", SHARED) is None

    lab.v("-n", SHARED, "patch", GADGETS, "g1", "--type=merge", "-p", '{"spec":{"message":"x"}}')
    wait_for(
        "the tenant's edit put back",
        lambda: (inside(lab, GADGETS, "g1", SHARED) or {}).get("spec") == {"message": "shared"},
    )

    lab.host("-n", NS, "delete", GADGETS, "g1")
    wait_for("the copy gone", lambda: inside(lab, GADGETS, "g1", SHARED) is None)
    assert host_object(lab, GADGETS, "hidden") is not None


def test_cluster_scoped_host_objects_are_shown_under_their_names(lab: Lab, operator: None) -> None:
    plan = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Plan",
        "metadata": {"name": "gold", "labels": {"tier": "shared"}},
        "spec": {"message": "priced"},
    }
    lab.host("apply", "-f", "-", stdin=json.dumps(plan))
    seen = wait_for(
        "the cluster-scoped copy inside",
        lambda: (p := inside(lab, PLANS, "gold")) and echo(p) == "priced" and p,
    )
    assert "namespace" not in seen["metadata"]
    lab.host("delete", PLANS, "gold")
    wait_for("the copy gone", lambda: inside(lab, PLANS, "gold") is None)


def test_a_definition_missing_on_the_host_is_refused_at_create(lab: Lab, tmp_path: Path) -> None:
    missing = f"nothings.{GROUP}"
    values = tmp_path / "values.yaml"
    values.write_text(
        json.dumps({"sync": {"toHost": {"customResources": {missing: {"enabled": True}}}}})
    )
    res = lab.cli("create", "vbad", "-n", "team-bad", "--no-connect", "-f", str(values))
    assert res.returncode != 0
    error = f"sync.toHost.customResources.{missing}: the host has no CustomResourceDefinition"
    assert error in res.stderr
    assert lab.host("get", "namespace", "team-bad", check=False).returncode != 0, (
        "nothing made on the host"
    )
