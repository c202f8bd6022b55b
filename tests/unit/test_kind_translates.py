"""Pure translate functions of the smaller kinds, with plain dicts."""

from subkube.syncer import names
from subkube.syncer.resources.endpoints import translate as endpoints
from subkube.syncer.resources.events import translate as events
from subkube.syncer.resources.nodes import translate as nodes
from subkube.syncer.resources.persistentvolumeclaims import translate as pvcs
from subkube.syncer.resources.services import translate as services

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
    v = events.to_virtual(hevent, involved, host_namespace="team-a")
    assert v is not None
    assert v["metadata"] == {"name": "web-1.17abc", "namespace": "demo"}
    assert v["involvedObject"] == {
        "kind": "Pod",
        "name": "web-1",
        "namespace": "demo",
        "uid": "vuid",
    }
    assert v["message"] == "Successfully assigned demo/web-1 to node-1"
    assert events.to_virtual(hevent, {"metadata": {"name": "x"}}, host_namespace="team-a") is None


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
    assert nodes.needed_nodes(pods) == {"a"}


def test_fake_nodes_are_ready_and_labelled() -> None:
    node = nodes.fake_node("n1", now="2026-01-01T00:00:00Z", kubelet_version="v1.35.4")
    assert node["metadata"]["labels"][nodes.FAKE_NODE_LABEL] == "true"
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert node["status"]["capacity"]["pods"] == "110"
