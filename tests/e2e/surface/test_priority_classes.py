"""sync.toHost.priorityClasses: the tenant's classes reach the host under their prefixed
names, the host pods name them and the host's Priority admission gives each its value; the
built-in classes never reach a host pod; `subkube delete` removes a vcluster's copies and
nobody else's."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from subkube.syncer import names
from tests.conftest import kubectl, wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e

# The same vcluster name in another host namespace: its copies share the host with ours.
TWIN_NS = "team-twin"


def priority_class(name: str, value: int) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "description": f"tenant {name}",
    }


def pod(name: str, priority_class_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "priorityClassName": priority_class_name,
            "containers": [{"name": "c", "image": "registry.example/app:1"}],
        },
    }


def test_preemption_order_is_visible_on_the_host_pods(lab: Lab) -> None:
    lab.apply(priority_class("tenant-high", 100000))
    lab.apply(priority_class("tenant-low", 10))
    for cls in ("tenant-high", "tenant-low"):
        copy = wait_for(f"the host copy of {cls}", lambda c=cls: lab.host_obj("priorityclass", c))
        assert copy["metadata"]["name"] == names.host_cluster_name(cls, NS, VC)
        assert not copy.get("globalDefault")
    lab.apply(pod("urgent", "tenant-high"))
    lab.apply(pod("batch", "tenant-low"))

    priorities = {}
    for name, cls in (("urgent", "tenant-high"), ("batch", "tenant-low")):
        hpod = wait_for(f"the host pod {name}", lambda n=name: lab.host_obj("pod", n, "default"))
        assert hpod["spec"]["priorityClassName"] == names.host_cluster_name(cls, NS, VC)
        priorities[name] = hpod["spec"]["priority"]
    # Filled in by the host's own admission from the host copies.
    assert priorities == {"urgent": 100000, "batch": 10}
    inside = lab.v_json("get", "pod", "urgent")
    assert inside["spec"]["priorityClassName"] == "tenant-high", "the tenant's spec stays"


def test_built_in_classes_never_reach_a_host_pod(lab: Lab) -> None:
    lab.apply(pod("critical", "system-node-critical"))
    hpod = wait_for("the host pod", lambda: lab.host_obj("pod", "critical", "default"))
    assert "priorityClassName" not in hpod["spec"]
    assert hpod["spec"].get("priority", 0) < 1_000_000_000
    inside = lab.v_json("get", "pod", "critical")
    assert inside["spec"]["priority"] == 2000001000, "inside it is what the tenant asked for"


def test_delete_removes_a_vclusters_copies_and_nobody_elses(lab: Lab, tmp_path: Path) -> None:
    values = tmp_path / "twin.yaml"
    values.write_text(yaml.safe_dump({"sync": {"toHost": {"priorityClasses": {"enabled": True}}}}))
    made = lab.cli("create", VC, "-n", TWIN_NS, "--no-connect", "-f", str(values))
    assert made.returncode == 0, made.stdout + made.stderr
    twin_kc = Path(lab.cli("kubeconfig", VC, "-n", TWIN_NS).stdout.strip())
    kubectl(twin_kc, "apply", "-f", "-", stdin=yaml.safe_dump(priority_class("tenant-high", 7)))
    twin_copy = names.host_cluster_name("tenant-high", TWIN_NS, VC)

    def host_class(name: str) -> Any:
        found = lab.host("get", "priorityclass", name, "-o", "json", check=False)
        return yaml.safe_load(found.stdout) if found.returncode == 0 else None

    assert wait_for("the twin's copy", lambda: host_class(twin_copy))["value"] == 7
    lab.apply(priority_class("tenant-high", 100000))
    ours = wait_for("our copy", lambda: lab.host_obj("priorityclass", "tenant-high"))
    assert ours["value"] == 100000, "same names, apart on the host"

    deleted = lab.cli("delete", VC, "-n", TWIN_NS)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert host_class(twin_copy) is None, "delete leaves no cluster-scoped copy behind"
    kept = lab.host_obj("priorityclass", "tenant-high")
    assert kept is not None
    assert kept["metadata"]["uid"] == ours["metadata"]["uid"]
