import copy

from subkube.syncer import names
from subkube.syncer.resources.pods import translate
from subkube.syncer.resources.pods.references import pod_references

CTX = translate.PodContext(
    vcluster="vc1",
    host_namespace="team-a",
    owner={"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "owner-uid"},
    api_service_ip="10.96.0.10",
    dns_service_ip="10.96.0.53",
    workload_service_account="vc-workload-vc1",
    services=[
        {
            "metadata": {"name": "web-db", "namespace": "demo"},
            "spec": {"clusterIP": "10.96.1.1", "ports": [{"name": "pg", "port": 5432}]},
        }
    ],
)


def vpod(**spec_extra: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "demo",
            "uid": "pod-uid",
            "labels": {"app": "web"},
            "annotations": {"a": "b"},
        },
        "spec": {
            "serviceAccountName": "builder",
            "nodeName": "virtual-node",
            "priorityClassName": "high",
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1",
                    "env": [
                        {
                            "name": "FROM_CM",
                            "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}},
                        },
                        {
                            "name": "FROM_SECRET",
                            "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}},
                        },
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                        {
                            "name": "APP",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}},
                        },
                        {"name": "KUBERNETES_SERVICE_HOST", "value": "user-wins"},
                    ],
                    "envFrom": [
                        {"configMapRef": {"name": "all-cfg"}},
                        {"secretRef": {"name": "all"}},
                    ],
                }
            ],
            "volumes": [
                {"name": "c", "configMap": {"name": "cfg"}},
                {"name": "s", "secret": {"secretName": "sec"}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                {
                    "name": "kube-api-access-x",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {"fieldPath": "metadata.namespace"},
                                        }
                                    ]
                                }
                            },
                        ]
                    },
                },
            ],
            **spec_extra,
        },
    }


def test_identity_names_and_ownership() -> None:
    host = translate.to_host(vpod(), CTX)
    meta = host["metadata"]
    assert meta["name"] == "web-1-x-demo-x-vc1"
    assert meta["namespace"] == "team-a"
    assert meta["ownerReferences"][0]["uid"] == "owner-uid"
    assert meta["labels"] == {
        "app": "web",
        names.LABEL_MANAGED_BY: "vc1",
        names.LABEL_NAMESPACE: "demo",
    }
    assert meta["annotations"][names.ANNOTATION_UID] == "pod-uid"
    assert meta["annotations"][translate.LABELS_ANNOTATION] == 'app="web"'
    spec = host["spec"]
    assert spec["serviceAccountName"] == "vc-workload-vc1"
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["hostname"] == "web-1"
    for dropped in ("nodeName", "priorityClassName"):
        assert dropped not in spec


def test_references_are_renamed() -> None:
    spec = translate.to_host(vpod(), CTX)["spec"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["FROM_CM"]["valueFrom"]["configMapKeyRef"]["name"] == "cfg-x-demo-x-vc1"
    assert env["FROM_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "sec-x-demo-x-vc1"
    env_from = spec["containers"][0]["envFrom"]
    assert env_from[0]["configMapRef"]["name"] == "all-cfg-x-demo-x-vc1"
    assert env_from[1]["secretRef"]["name"] == "all-x-demo-x-vc1"
    assert spec["imagePullSecrets"] == [{"name": "regcred-x-demo-x-vc1"}]
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["c"]["configMap"]["name"] == "cfg-x-demo-x-vc1"
    assert vols["s"]["secret"]["secretName"] == "sec-x-demo-x-vc1"
    assert vols["d"]["persistentVolumeClaim"]["claimName"] == "data-x-demo-x-vc1"


def test_downward_api_reads_virtual_values() -> None:
    spec = translate.to_host(vpod(), CTX)["spec"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        f"metadata.annotations['{names.ANNOTATION_NAME}']"
    )
    assert env["APP"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['app']"
    projected = {v["name"]: v for v in spec["volumes"]}["kube-api-access-x"]["projected"]
    ns_item = projected["sources"][2]["downwardAPI"]["items"][0]
    assert ns_item["fieldRef"]["fieldPath"] == (
        f"metadata.annotations['{names.ANNOTATION_NAMESPACE}']"
    )


def test_service_account_token_comes_from_a_host_secret() -> None:
    spec = translate.to_host(vpod(), CTX)["spec"]
    sources = {v["name"]: v for v in spec["volumes"]}["kube-api-access-x"]["projected"]["sources"]
    assert sources[0] == {
        "secret": {
            "name": "web-1-x-demo-x-vc1-x-token",
            "items": [{"key": "kube-api-access-x.0.token", "path": "token"}],
        }
    }
    assert sources[1]["configMap"]["name"] == names.host_name("kube-root-ca.crt", "demo", "vc1")
    assert translate.token_requests(vpod()) == [
        ("kube-api-access-x", 0, {"expirationSeconds": 3607, "path": "token"})
    ]


def test_dns_api_env_and_service_links() -> None:
    spec = translate.to_host(vpod(), CTX)["spec"]
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"]["nameservers"] == ["10.96.0.53"]
    assert spec["dnsConfig"]["searches"][:3] == [
        "demo.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ]
    assert {"name": "ndots", "value": "5"} in spec["dnsConfig"]["options"]
    assert spec["hostAliases"][0]["ip"] == "10.96.0.10"
    assert "kubernetes.default.svc.cluster.local" in spec["hostAliases"][0]["hostnames"]
    env = spec["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["KUBERNETES_SERVICE_HOST"] == "user-wins"
    assert [e["name"] for e in env].count("KUBERNETES_SERVICE_HOST") == 1
    assert values["KUBERNETES_SERVICE_PORT"] == "443"
    assert values["WEB_DB_SERVICE_HOST"] == "10.96.1.1"
    assert values["WEB_DB_PORT_5432_TCP_ADDR"] == "10.96.1.1"
    no_links = translate.to_host(vpod(enableServiceLinks=False), CTX)["spec"]
    assert "WEB_DB_SERVICE_HOST" not in {e["name"] for e in no_links["containers"][0]["env"]}


def test_other_dns_policies_are_kept() -> None:
    spec = translate.to_host(vpod(dnsPolicy="Default"), CTX)["spec"]
    assert spec["dnsPolicy"] == "Default"
    assert "dnsConfig" not in spec


def test_affinity_selectors_are_scoped_to_the_virtual_namespace() -> None:
    affinity = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "topologyKey": "kubernetes.io/hostname",
                    "namespaces": ["other"],
                    "labelSelector": {"matchLabels": {"app": "web"}},
                }
            ]
        }
    }
    spec = translate.to_host(vpod(affinity=affinity), CTX)["spec"]
    term = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"] == {
        "app": "web",
        names.LABEL_NAMESPACE: "demo",
        names.LABEL_MANAGED_BY: "vc1",
    }
    assert "namespaces" not in term


def test_translation_does_not_modify_its_input() -> None:
    original = vpod()
    before = copy.deepcopy(original)
    translate.to_host(original, CTX)
    assert original == before


def test_only_mutable_fields_update_the_host() -> None:
    desired = translate.to_host(vpod(), CTX)
    actual = copy.deepcopy(desired)
    assert translate.host_spec_update(desired, actual) is None
    desired["spec"]["containers"][0]["image"] = "nginx:2"
    desired["spec"]["containers"][0]["env"] = []
    desired["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    patch = translate.host_spec_update(desired, actual)
    assert patch is not None
    assert patch["spec"]["containers"][0]["image"] == "nginx:2"
    assert patch["spec"]["containers"][0]["env"] == actual["spec"]["containers"][0]["env"]
    assert patch["spec"]["tolerations"] == [{"key": "k", "operator": "Exists"}]


def test_status_flows_back_except_qos_class() -> None:
    v = vpod()
    v["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    h = {"status": {"phase": "Running", "podIP": "10.244.0.5", "qosClass": "Guaranteed"}}
    out = translate.status_to_virtual(v, h)
    assert out is not None
    assert out["status"] == {"phase": "Running", "podIP": "10.244.0.5", "qosClass": "BestEffort"}
    assert translate.status_to_virtual(out, h) is None


def test_references_index_everything_a_pod_uses() -> None:
    refs = pod_references(vpod())
    assert refs["configmaps"] == {"cfg", "all-cfg", "kube-root-ca.crt"}
    assert refs["secrets"] == {"sec", "all", "regcred"}
    assert refs["persistentvolumeclaims"] == {"data"}


def test_ephemeral_volumes_use_the_synced_claim() -> None:
    eph = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
    pod = vpod()
    pod["spec"]["volumes"].append(eph)
    vols = {v["name"]: v for v in translate.to_host(pod, CTX)["spec"]["volumes"]}
    assert vols["scratch"] == {
        "name": "scratch",
        "persistentVolumeClaim": {"claimName": names.host_name("web-1-scratch", "demo", "vc1")},
    }


def test_a_host_priority_class_is_kept_when_classes_come_from_the_host() -> None:
    ctx = copy.copy(CTX)
    ctx.keep_priority_class = True
    spec = translate.to_host(vpod(), ctx)["spec"]
    assert spec["priorityClassName"] == "high"
    assert "priority" not in spec


def test_pods_are_pinned_to_the_selected_host_nodes() -> None:
    ctx = copy.copy(CTX)
    ctx.node_selector = {"pool": "tenant"}
    pod = vpod()
    pod["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert translate.to_host(pod, ctx)["spec"]["nodeSelector"] == {"disk": "ssd", "pool": "tenant"}


def test_the_scheduler_name_is_kept_and_the_node_chosen_inside_only_with_a_virtual_scheduler() -> (
    None
):
    pod = vpod(schedulerName="my-scheduler")
    host = translate.to_host(pod, CTX)
    assert host["spec"]["schedulerName"] == "my-scheduler"
    assert "nodeName" not in host["spec"]
    inside = copy.copy(CTX)
    inside.virtual_scheduler = True
    assert translate.to_host(pod, inside)["spec"]["nodeName"] == "virtual-node"


def test_the_controller_kind_is_recorded_for_the_host() -> None:
    pod = vpod()
    pod["metadata"]["ownerReferences"] = [
        {"kind": "Job", "name": "j1", "controller": True, "apiVersion": "batch/v1", "uid": "j"}
    ]
    host = translate.to_host(pod, CTX)
    assert host["metadata"]["annotations"][translate.OWNER_KIND_ANNOTATION] == "Job"
    assert (
        translate.OWNER_KIND_ANNOTATION
        not in translate.to_host(vpod(), CTX)["metadata"]["annotations"]
    )


def test_a_daemonset_pod_goes_to_its_node_whatever_the_host_node_labels() -> None:
    pinned = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": ["kwok-node-1"]}
                        ]
                    }
                ]
            }
        }
    }
    host = translate.to_host(vpod(nodeSelector={"disk": "ssd"}, affinity=pinned), CTX)
    assert "nodeSelector" not in host["spec"]
    assert host["spec"]["affinity"]["nodeAffinity"] == pinned["nodeAffinity"]
    assert translate.pinned_nodes(host["spec"]) == {"kwok-node-1"}
    by_label = copy.deepcopy(pinned)
    term = by_label["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    term["matchExpressions"] = [{"key": "disk", "operator": "Exists"}]
    host = translate.to_host(vpod(nodeSelector={"disk": "ssd"}, affinity=by_label), CTX)
    assert host["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_every_name_a_pod_gives_is_translated_never_passed_through() -> None:
    """vc-NAME (the kubeconfig Secret), another vcluster's translated name, a raw host
    name: each is taken as a name of the tenant's namespace and translated."""
    guesses = ["vc-vc1", "web-x-demo-x-vc2", "subkube-workload-vc1"]
    volumes = [
        {"name": "a", "secret": {"secretName": guesses[0]}},
        {"name": "b", "projected": {"sources": [{"secret": {"name": guesses[1]}}]}},
        {"name": "c", "azureFile": {"secretName": guesses[2], "shareName": "s"}},
        {"name": "d", "csi": {"driver": "x", "nodePublishSecretRef": {"name": guesses[0]}}},
        {"name": "e", "flexVolume": {"driver": "x", "secretRef": {"name": guesses[0]}}},
        {
            "name": "f",
            "iscsi": {"targetPortal": "t", "iqn": "i", "lun": 0, "secretRef": {"name": guesses[0]}},
        },
        {"name": "g", "cinder": {"volumeID": "v", "secretRef": {"name": guesses[0]}}},
        {
            "name": "h",
            "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": guesses[0]}},
        },
        {"name": "i", "storageos": {"volumeName": "v", "secretRef": {"name": guesses[0]}}},
        {"name": "j", "cephfs": {"monitors": ["m"], "secretRef": {"name": guesses[0]}}},
        {"name": "k", "rbd": {"monitors": ["m"], "image": "i", "secretRef": {"name": guesses[0]}}},
        {"name": "l", "glusterfs": {"endpoints": guesses[1], "path": "p"}},
        {"name": "m", "persistentVolumeClaim": {"claimName": guesses[1]}},
        {"name": "n", "configMap": {"name": guesses[0]}},
    ]
    pod = vpod(
        volumes=volumes,
        imagePullSecrets=[{"name": guesses[0]}],
        resourceClaims=[{"name": "gpu", "resourceClaimName": guesses[1]}],
    )
    host = translate.to_host(pod, CTX)["spec"]
    given: list[str] = []
    for vol in host["volumes"]:
        for value in _names_in(vol):
            given.append(value)
    given += [s["name"] for s in host["imagePullSecrets"]]
    given += [host["resourceClaims"][0]["resourceClaimName"]]
    translated = {names.host_name(g, "demo", "vc1") for g in guesses} | {
        names.host_name(n, "demo", "vc1") for n in ("regcred",)
    }
    assert given
    assert set(given) <= translated, set(given) - translated
    refs = pod_references(pod)
    assert refs["secrets"] >= {guesses[0], guesses[2]}


def _names_in(volume: dict) -> list[str]:
    """Every object name a translated volume carries."""
    out = []
    for key, value in volume.items():
        if key == "name" or not isinstance(value, dict):
            continue
        for field in ("secretName", "claimName", "endpoints"):
            if field in value:
                out.append(value[field])
        if "name" in value and key == "configMap":
            out.append(value["name"])
        for ref in ("secretRef", "nodePublishSecretRef"):
            if ref in value:
                out.append(value[ref]["name"])
        for source in value.get("sources") or []:
            out += [s["name"] for s in source.values() if isinstance(s, dict) and "name" in s]
    return out
