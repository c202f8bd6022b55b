"""Pure translate functions of the smaller kinds, with plain dicts."""

import base64
import json

from subkube.runner.admission import review_response
from subkube.syncer import names
from subkube.syncer.resources.endpoints import translate as endpoints
from subkube.syncer.resources.events import translate as events
from subkube.syncer.resources.nodes import translate as nodes
from subkube.syncer.resources.persistentvolumeclaims import translate as pvcs
from subkube.syncer.resources.services import translate as services
from subkube.syncer.tohost import Admission

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER}


def meta(name: str, ns: str = "demo", **extra: object) -> dict:
    return {"name": name, "namespace": ns, "uid": f"uid-{name}", **extra}


def test_service_selector_and_ip_carry_over() -> None:
    v = {
        "metadata": meta("web"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.5.5",
            "clusterIPs": ["10.96.5.5"],
            "selector": {"app": "web"},
            "healthCheckNodePort": 31000,
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }
    h = services.to_host(v, **KW)
    assert h["metadata"]["name"] == "web-x-demo-x-vc1"
    assert h["spec"]["clusterIP"] == "10.96.5.5"
    assert h["spec"]["type"] == "NodePort"
    assert h["spec"]["selector"] == {
        "app": "web",
        names.LABEL_MANAGED_BY: "vc1",
        names.LABEL_NAMESPACE: "demo",
    }
    assert "healthCheckNodePort" not in h["spec"]
    assert "clusterIP" not in services.without_cluster_ip(h)["spec"]


def test_service_update_keeps_host_node_ports_and_immutable_fields() -> None:
    v = {
        "metadata": meta("web"),
        "spec": {"clusterIP": "10.96.5.5", "type": "NodePort", "ports": [{"port": 80}]},
    }
    desired = services.to_host(v, **KW)
    actual = {
        "spec": {
            "clusterIP": "10.96.5.5",
            "type": "NodePort",
            "ports": [{"port": 80, "nodePort": 30080}],
        }
    }
    assert services.host_spec_update(desired, actual) is None
    desired["spec"]["ports"] = [{"port": 81}]
    assert services.host_spec_update(desired, actual) == {
        "spec": {"ports": [{"port": 81, "nodePort": 30080}]}
    }


def test_service_status_and_ip_mismatch() -> None:
    v = {"metadata": meta("web"), "spec": {"clusterIP": "10.96.0.7"}, "status": {}}
    h = {
        "spec": {"clusterIP": "10.96.0.9"},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    }
    assert services.status_to_virtual(v, h)["status"]["loadBalancer"]["ingress"][0]["ip"] == (
        "1.2.3.4"
    )
    assert services.ip_mismatch(v, h)
    assert not services.ip_mismatch({"spec": {"clusterIP": "None"}}, h)
    fresh = services.recreated_with_ip(
        {**v, "metadata": meta("web", resourceVersion="5")}, "10.96.0.9"
    )
    assert fresh["spec"]["clusterIPs"] == ["10.96.0.9"]
    assert "uid" not in fresh["metadata"]
    assert "resourceVersion" not in fresh["metadata"]


def test_endpoints_point_at_host_pods() -> None:
    v = {
        "metadata": meta("db"),
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": "10.244.0.5",
                        "targetRef": {"kind": "Pod", "name": "db-0", "namespace": "demo"},
                    },
                    {"ip": "192.168.1.1"},
                ],
                "ports": [{"port": 5432}],
            }
        ],
    }
    h = endpoints.to_host(v, **KW)
    addresses = h["subsets"][0]["addresses"]
    assert addresses[0]["targetRef"] == {
        "kind": "Pod",
        "namespace": "team-a",
        "name": "db-0-x-demo-x-vc1",
    }
    assert addresses[1] == {"ip": "192.168.1.1"}
    assert h["metadata"]["name"] == "db-x-demo-x-vc1"


def test_pvc_keeps_storage_class_and_drops_binding() -> None:
    v = {
        "metadata": meta("data", annotations={"pv.kubernetes.io/bind-completed": "yes"}),
        "spec": {
            "storageClassName": "fast",
            "volumeName": "pv-1",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "dataSource": {"kind": "PersistentVolumeClaim", "name": "seed"},
        },
    }
    h = pvcs.to_host(v, **KW)
    assert h["spec"]["storageClassName"] == "fast"
    assert "volumeName" not in h["spec"]
    assert h["spec"]["dataSource"]["name"] == "seed-x-demo-x-vc1"
    assert "pv.kubernetes.io/bind-completed" not in h["metadata"]["annotations"]
    grown = pvcs.to_host(
        {**v, "spec": {**v["spec"], "resources": {"requests": {"storage": "2Gi"}}}}, **KW
    )
    assert pvcs.host_spec_update(grown, h) == {
        "spec": {"resources": {"requests": {"storage": "2Gi"}}}
    }
    assert pvcs.status_to_virtual(v, {"status": {"phase": "Bound"}})["status"] == {"phase": "Bound"}


def test_host_events_are_translated_back_without_host_names() -> None:
    involved = {
        "metadata": {
            "name": "web-1-x-demo-x-vc1",
            "annotations": {
                names.ANNOTATION_NAME: "web-1",
                names.ANNOTATION_NAMESPACE: "demo",
                names.ANNOTATION_UID: "vuid",
            },
        }
    }
    hevent = {
        "metadata": {"name": "web-1-x-demo-x-vc1.17abc", "namespace": "team-a", "uid": "e"},
        "involvedObject": {
            "kind": "Pod",
            "name": "web-1-x-demo-x-vc1",
            "namespace": "team-a",
            "uid": "huid",
            "resourceVersion": "9",
        },
        "reason": "Scheduled",
        "type": "Normal",
        "count": 1,
        "message": "Successfully assigned team-a/web-1-x-demo-x-vc1 to node-1",
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    v = events.to_virtual(hevent, involved, host_namespace="team-a", vcluster="vc1")
    assert v is not None
    assert v["metadata"] == {
        "name": "web-1.17abc",
        "namespace": "demo",
        "labels": {names.LABEL_MANAGED_BY: "vc1"},
    }
    assert v["involvedObject"] == {
        "kind": "Pod",
        "name": "web-1",
        "namespace": "demo",
        "uid": "vuid",
    }
    assert v["message"] == "Successfully assigned demo/web-1 to node-1"
    assert (
        events.to_virtual(
            hevent, {"metadata": {"name": "x"}}, host_namespace="team-a", vcluster="vc1"
        )
        is None
    )
    kept = events.copied({**v, "metadata": {**v["metadata"], "resourceVersion": "7"}})
    assert events.changed(kept, v) is None
    again = {**v, "count": 2, "lastTimestamp": "2026-01-01T00:01:00Z"}
    assert events.changed(kept, again) == {
        "count": 2,
        "message": v["message"],
        "lastTimestamp": "2026-01-01T00:01:00Z",
    }


def test_daemonset_pods_alone_do_not_keep_a_fake_node() -> None:
    def pod(node: str, phase: str = "Running", ds: bool = False) -> dict:
        owners = [{"kind": "DaemonSet", "name": "agent"}] if ds else []
        return {
            "metadata": {"ownerReferences": owners},
            "spec": {"nodeName": node},
            "status": {"phase": phase},
        }

    pods = [
        pod("a"),
        pod("b", ds=True),
        pod("c", phase="Succeeded"),
        pod("a", ds=True),
        {"spec": {}, "status": {}},
    ]
    # A finished pod keeps its node: its logs are read through it.
    assert {n for p in pods for n in nodes.holding_node(p)} == {"a", "c"}
    assert [p["spec"]["nodeName"] for p in nodes.daemonset_pods_on("b", pods)] == ["b"]


def test_fake_nodes_are_ready_and_labelled() -> None:
    node = nodes.fake_node(
        "n1", now="2026-01-01T00:00:00Z", kubelet_version="v1.35.4", address="127.0.0.1", port=9
    )
    assert "taints" not in node["spec"]
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 9}}
    assert node["metadata"]["labels"][nodes.FAKE_NODE_LABEL] == "true"
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert node["status"]["capacity"]["pods"] == "110"


def test_a_service_is_born_with_its_host_copys_addresses() -> None:
    vsvc = {
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]},
    }
    hsvc = {
        "spec": {
            "clusterIP": "10.96.7.7",
            "clusterIPs": ["10.96.7.7"],
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443}],
        }
    }
    assert services.admission_patch(vsvc, hsvc) == [
        {"op": "add", "path": "/spec/clusterIP", "value": "10.96.7.7"},
        {"op": "add", "path": "/spec/clusterIPs", "value": ["10.96.7.7"]},
        {"op": "add", "path": "/spec/ports/0/nodePort", "value": 30080},
    ]
    assert services.born_on_host(vsvc)
    assert not services.born_on_host({"spec": {"clusterIP": "None"}})
    assert not services.born_on_host({"spec": {"type": "ExternalName"}})


def test_the_admission_answer_is_an_admission_review() -> None:
    request = {"uid": "r1"}
    allowed = review_response(request, Admission(patch=[{"op": "add", "path": "/x", "value": 1}]))
    response = allowed["response"]
    assert response["uid"] == "r1"
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == [
        {"op": "add", "path": "/x", "value": 1}
    ]
    denied = review_response(request, Admission(allowed=False, code=422, message="taken"))
    assert denied["response"]["status"] == {"code": 422, "message": "taken"}
    assert "patch" not in denied["response"]


def test_a_bound_claim_gets_its_volume_and_class_inside() -> None:
    vclaim = {"metadata": {"name": "data", "namespace": "demo", "uid": "c1"}, "spec": {}}
    hclaim = {
        "spec": {"volumeName": "pvc-123", "storageClassName": "standard"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["RWO"]},
    }
    volume = pvcs.virtual_volume(vclaim, hclaim)
    assert volume["metadata"]["name"] == "pvc-123"
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    assert volume["spec"]["accessModes"] == ["RWO"]
    assert volume["spec"]["storageClassName"] == "standard"
    assert volume["spec"]["claimRef"]["uid"] == "c1"
    assert pvcs.is_volume_of(volume, "demo", "data")
    assert not pvcs.is_volume_of(volume, "demo", "other")
    assert pvcs.claim_binding(vclaim, hclaim) == {
        "spec": {"volumeName": "pvc-123", "storageClassName": "standard"}
    }
    bound = {**vclaim, "spec": {"volumeName": "pvc-123", "storageClassName": "fast"}}
    assert pvcs.claim_binding(bound, hclaim) is None
    assert pvcs.claim_binding(vclaim, {**hclaim, "status": {"phase": "Pending"}}) == {
        "spec": {"storageClassName": "standard"}
    }
