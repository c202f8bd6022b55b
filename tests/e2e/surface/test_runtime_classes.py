"""RuntimeClasses a tenant makes inside (with sync.fromHost.runtimeClasses): a pod naming one
runs on the host under the host's class of the same handler, placed and charged by that
class; a pod whose handler no host class has is refused with a Warning, and runs once the
host's admin adds one."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.e2e.surface.conftest import Lab

pytestmark = pytest.mark.e2e

NAMESPACE = "runtimes"
HOSTNAME = "kubernetes.io/hostname"


def runtime_class(name: str, handler: str, **extra: Any) -> dict:
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name},
        "handler": handler,
        **extra,
    }


def pod(name: str, runtime: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "runtimeClassName": runtime,
            "containers": [{"name": "c", "image": "registry.example/app:1"}],
        },
    }


def phase(lab: Lab, name: str) -> str:
    return str(lab.v("-n", NAMESPACE, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout)


@pytest.fixture(scope="module", autouse=True)
def namespace(lab: Lab) -> None:
    lab.v("create", "namespace", NAMESPACE)


@pytest.fixture
def host_classes(lab: Lab) -> Iterator[list[str]]:
    """Names of the host RuntimeClasses a test makes, deleted after it."""
    made: list[str] = []
    yield made
    for name in made:
        lab.host("delete", "runtimeclass", name, "--ignore-not-found")


def host_apply(lab: Lab, made: list[str], obj: dict) -> None:
    lab.host("apply", "-f", "-", stdin=json.dumps(obj))
    made.append(obj["metadata"]["name"])


def test_a_tenants_class_runs_as_the_hosts_class_of_its_handler(
    lab: Lab, host_classes: list[str]
) -> None:
    nodes = sorted(
        n["metadata"]["name"]
        for n in lab.host_json("get", "nodes")["items"]
        if not n["spec"].get("taints") and not n["spec"].get("unschedulable")
    )
    there, elsewhere = nodes[0], nodes[-1]
    host_apply(
        lab,
        host_classes,
        runtime_class(
            "host-sandbox",
            "runsc",
            overhead={"podFixed": {"cpu": "50m"}},
            scheduling={"nodeSelector": {HOSTNAME: there}},
        ),
    )
    # The tenant's own class: same handler, its own overhead, and a node selector on the
    # same label that the host's class would refuse next to its own.
    lab.apply(
        runtime_class(
            "gvisor",
            "runsc",
            overhead={"podFixed": {"cpu": "10m"}},
            scheduling={"nodeSelector": {HOSTNAME: elsewhere}},
        )
    )
    lab.apply(pod("sandboxed", "gvisor"))

    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "sandboxed", NAMESPACE))
    spec = hpod["spec"]
    assert spec["runtimeClassName"] == "host-sandbox"
    assert spec["overhead"] == {"cpu": "50m"}, "the host class's overhead, set on the host"
    assert spec["nodeSelector"][HOSTNAME] == there
    wait_for("the pod Running inside", lambda: phase(lab, "sandboxed") == "Running")
    inside = lab.v_json("-n", NAMESPACE, "get", "pod", "sandboxed")
    assert inside["spec"]["runtimeClassName"] == "gvisor", "the tenant's spec stays"
    assert inside["spec"]["overhead"] == {"cpu": "10m"}
    assert inside["spec"]["nodeName"] == there

    # The host's class, shown inside, is used under its own name.
    wait_for(
        "the host class shown inside",
        lambda: lab.v("get", "runtimeclass", "host-sandbox", check=False).returncode == 0,
    )
    lab.apply(pod("direct", "host-sandbox"))
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "direct", NAMESPACE))
    assert hpod["spec"]["runtimeClassName"] == "host-sandbox"


def test_a_handler_the_host_lacks_is_refused_until_the_host_has_it(
    lab: Lab, host_classes: list[str]
) -> None:
    # A class that exists nowhere is refused by the API server inside, as on any cluster.
    missing = lab.v("apply", "-f", "-", stdin=json.dumps(pod("nowhere", "nope")), check=False)
    assert missing.returncode != 0
    assert 'RuntimeClass "nope" not found' in missing.stderr, missing.stderr

    lab.apply(runtime_class("wasm", "spin"))
    lab.apply(pod("wasm-app", "wasm"))

    def warning() -> str | None:
        events = lab.v_json(
            "-n", NAMESPACE, "get", "events", "--field-selector", "involvedObject.name=wasm-app"
        )["items"]
        return next((e["message"] for e in events if e["type"] == "Warning"), None)

    message = wait_for("a Warning event", warning)
    assert 'no RuntimeClass on the host has handler "spin"' in message
    scheduled = lab.v(
        "-n",
        NAMESPACE,
        "get",
        "pod",
        "wasm-app",
        "-o",
        "jsonpath={.status.conditions[?(@.type=='PodScheduled')].message}",
    ).stdout
    assert scheduled == message
    assert lab.host_obj("pod", "wasm-app", NAMESPACE) is None

    host_apply(lab, host_classes, runtime_class("spin-runtime", "spin"))
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "wasm-app", NAMESPACE))
    assert hpod["spec"]["runtimeClassName"] == "spin-runtime"
    wait_for("the pod Running inside", lambda: phase(lab, "wasm-app") == "Running")
