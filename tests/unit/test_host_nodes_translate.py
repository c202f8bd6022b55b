"""Copies of real host nodes inside (sync.fromHost.nodes), with plain dicts."""

import json

from subkube.syncer.resources.nodes import translate


def host_node(name: str = "n1", **labels: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "uid": "h",
            "labels": {"kubernetes.io/hostname": name, **labels},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "team.io/owner": "ops"},
        },
        "spec": {"podCIDR": "10.0.0.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "4"},
            "images": [{"names": ["nginx"]}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def pod_on(node: str) -> dict:
    return {"spec": {"nodeName": node}, "status": {"phase": "Running"}, "metadata": {}}


def test_which_host_nodes_show() -> None:
    def shown(all_nodes: bool, labels: dict[str, str]) -> set[str]:
        running = {"b", "c"}
        return {
            n["metadata"]["name"]
            for n in (host_node("a", pool="t"), host_node("b"), host_node("c", pool="t"))
            if translate.shows_host_node(
                n, holds_pods=n["metadata"]["name"] in running, all_nodes=all_nodes, labels=labels
            )
        }

    assert shown(True, {}) == {"a", "b", "c"}
    assert shown(False, {}) == {"b", "c"}
    assert shown(True, {"pool": "t"}) == {"a", "c"}
    assert shown(False, {"pool": "t"}) == {"c"}


def copy_of(node: dict, edits: dict | None = None) -> dict:
    return translate.host_node_copy(node, address="127.0.0.1", port=4242, edits=edits)


def test_the_copy_keeps_what_tenants_see_and_drops_host_internals() -> None:
    copy = copy_of(host_node())
    assert copy["metadata"]["labels"][translate.HOST_NODE_LABEL] == "true"
    assert "node.alpha.kubernetes.io/ttl" not in copy["metadata"]["annotations"]
    assert copy["metadata"]["annotations"]["team.io/owner"] == "ops"
    assert copy["spec"] == {"taints": [{"key": "k", "effect": "NoSchedule"}]}
    assert "images" not in copy["status"]
    assert copy["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 4242}}
    assert copy["status"]["addresses"] == [
        {"type": "InternalIP", "address": "127.0.0.1"},
        {"type": "Hostname", "address": "n1"},
    ]
    snapshot = json.loads(copy["metadata"]["annotations"][translate.SNAPSHOT_ANNOTATION])
    assert snapshot["labels"] == {"kubernetes.io/hostname": "n1"}
    assert translate.copy_differs(copy, copy) == (False, False)


def test_tenant_edits_are_what_changed_since_the_copy() -> None:
    copy = copy_of(host_node(zone="z"))
    assert translate.tenant_edits(copy) is None
    copy["metadata"]["labels"]["team"] = "a"
    del copy["metadata"]["labels"]["zone"]
    copy["spec"]["unschedulable"] = True
    assert translate.tenant_edits(copy) == {
        "metadata": {"labels": {"team": "a", "zone": None}},
        "spec": {"unschedulable": True},
    }
    stranger = {"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {}}
    assert translate.tenant_edits(stranger) is None


def test_tenant_edits_stay_on_top_of_what_the_host_says() -> None:
    view = copy_of(host_node(zone="z"))
    view["metadata"]["labels"]["team"] = "a"
    del view["metadata"]["labels"]["zone"]
    view["spec"]["taints"] = []
    edits = translate.tenant_edits(view)
    # The host changes a label of its own meanwhile: both show.
    again = copy_of(host_node(zone="z", rack="r1"), edits)
    labels = again["metadata"]["labels"]
    assert labels["team"] == "a"
    assert labels["rack"] == "r1"
    assert "zone" not in labels
    assert again["spec"]["taints"] == []
    assert translate.tenant_edits(again) == edits
    assert translate.copy_differs(again, again) == (False, False)


def test_a_kubelet_port_change_is_seen() -> None:
    view = copy_of(host_node())
    assert not translate.kubelet_differs(view, "127.0.0.1", 4242)
    assert translate.kubelet_differs(view, "127.0.0.1", 4243)
