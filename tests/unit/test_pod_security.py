"""The Pod Security Standards the syncer enforces, with plain dicts."""

import copy
from typing import Any

import pytest

from subkube.syncer import refusal
from subkube.syncer.dns import coredns
from subkube.syncer.resources.pods import security, translate
from subkube.syncer.resources.pods.security import BASELINE, PRIVILEGED, RESTRICTED


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "demo"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def container(**sc: Any) -> dict[str, Any]:
    return pod(containers=[{"name": "c", "image": "busybox", "securityContext": sc}])


def fields(p: dict[str, Any], level: str) -> list[str]:
    return [v.field for v in security.violations(p, level)]


# Each escape a tenant may try, and the field the refusal names.
ESCAPES = [
    (pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "spec.volumes[0].hostPath"),
    (pod(hostNetwork=True), "spec.hostNetwork"),
    (pod(hostPID=True), "spec.hostPID"),
    (pod(hostIPC=True), "spec.hostIPC"),
    (container(privileged=True), "spec.containers[0].securityContext.privileged"),
    (
        container(capabilities={"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}),
        "spec.containers[0].securityContext.capabilities.add[1]",
    ),
    (
        pod(containers=[{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]),
        "spec.containers[0].ports[0].hostPort",
    ),
    (container(procMount="Unmasked"), "spec.containers[0].securityContext.procMount"),
    (
        pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
        "spec.securityContext.sysctls[0].name",
    ),
    (
        container(seccompProfile={"type": "Unconfined"}),
        "spec.containers[0].securityContext.seccompProfile.type",
    ),
    (
        pod(securityContext={"appArmorProfile": {"type": "Unconfined"}}),
        "spec.securityContext.appArmorProfile.type",
    ),
    (
        container(seLinuxOptions={"type": "spc_t"}),
        "spec.containers[0].securityContext.seLinuxOptions.type",
    ),
    (
        pod(initContainers=[{"name": "i", "securityContext": {"privileged": True}}]),
        "spec.initContainers[0].securityContext.privileged",
    ),
    (
        pod(
            containers=[
                {"name": "c", "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}
            ]
        ),
        "spec.containers[0].livenessProbe.httpGet.host",
    ),
    (
        container(windowsOptions={"hostProcess": True}),
        "spec.containers[0].securityContext.windowsOptions.hostProcess",
    ),
]


@pytest.mark.parametrize(("escape", "field"), ESCAPES)
def test_baseline_refuses_every_escape_naming_its_field(escape: dict, field: str) -> None:
    assert field in fields(escape, BASELINE)
    assert field in fields(escape, RESTRICTED)
    assert security.violations(escape, PRIVILEGED) == []
    assert str(security.violations(escape, BASELINE)[0]).endswith(": forbidden by baseline")


def test_an_apparmor_annotation_counts_too() -> None:
    p = pod()
    key = "container.apparmor.security.beta.kubernetes.io/c"
    p["metadata"]["annotations"] = {key: "unconfined"}
    assert fields(p, BASELINE) == [f"metadata.annotations[{key}]"]
    p["metadata"]["annotations"] = {key: "localhost/mine"}
    assert fields(p, BASELINE) == []


def test_an_ordinary_pod_passes_baseline_but_not_restricted() -> None:
    ordinary = pod(
        volumes=[{"name": "data", "emptyDir": {}}],
        securityContext={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]},
    )
    assert fields(ordinary, BASELINE) == []
    assert fields(ordinary, RESTRICTED) == [
        "spec.containers[0].securityContext.runAsNonRoot",
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.containers[0].securityContext.capabilities.drop",
        "spec.containers[0].securityContext.seccompProfile",
    ]


COMPLIANT = pod(
    securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    containers=[
        {
            "name": "c",
            "image": "busybox",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
        }
    ],
    volumes=[{"name": "cfg", "configMap": {"name": "x"}}],
)


def test_restricted_takes_a_compliant_pod_and_refuses_root() -> None:
    assert fields(COMPLIANT, RESTRICTED) == []
    root = copy.deepcopy(COMPLIANT)
    root["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    assert fields(root, RESTRICTED) == ["spec.containers[0].securityContext.runAsUser"]
    assert fields(root, BASELINE) == []
    explicit = copy.deepcopy(COMPLIANT)
    explicit["spec"]["securityContext"]["runAsNonRoot"] = False
    assert "spec.securityContext.runAsNonRoot" in fields(explicit, RESTRICTED)
    nfs = copy.deepcopy(COMPLIANT)
    nfs["spec"]["volumes"].append({"name": "n", "nfs": {"server": "s", "path": "/"}})
    assert fields(nfs, RESTRICTED) == ["spec.volumes[1]"]


def test_user_namespaces_and_windows_relax_as_upstream_does() -> None:
    userns = copy.deepcopy(COMPLIANT)
    userns["spec"]["hostUsers"] = False
    del userns["spec"]["securityContext"]["runAsNonRoot"]
    userns["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    assert fields(userns, RESTRICTED) == []
    windows = pod(os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    assert fields(windows, RESTRICTED) == []


def test_levels_order() -> None:
    assert security.more_permissive(PRIVILEGED, BASELINE)
    assert security.more_permissive("", RESTRICTED)
    assert not security.more_permissive(RESTRICTED, BASELINE)
    assert not security.more_permissive(BASELINE, BASELINE)


def test_the_vclusters_own_dns_meets_restricted() -> None:
    deployment = dict(coredns.manifests("cluster.local"))["deployments"]
    assert security.violations({"spec": deployment["spec"]["template"]["spec"]}, RESTRICTED) == []


def test_a_refusal_is_told_once_per_message() -> None:
    pod = {"metadata": {"name": "p", "namespace": "demo", "uid": "u"}, "status": {}}
    assert translate.refused_with(pod, "Forbidden") is None
    pod["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "Forbidden", "message": "m"}
    ]
    assert translate.refused_with(pod, "Forbidden") == "m"
    event = refusal.event(pod, kind="Pod", api_version="v1", message="m", now="t", vcluster="vc1")
    assert event["type"] == "Warning"
    assert event["reason"] == "Forbidden"
    assert event["involvedObject"]["uid"] == "u"
    assert event["involvedObject"]["namespace"] == "demo"
    assert event["metadata"] == {"generateName": "p.", "namespace": "demo"}


def test_a_refusal_of_a_cluster_scoped_object_is_told_in_default() -> None:
    pv = {"metadata": {"name": "pv1", "uid": "u"}}
    event = refusal.event(
        pv, kind="PersistentVolume", api_version="v1", message="m", now="t", vcluster="vc1"
    )
    assert event["metadata"] == {"generateName": "pv1.", "namespace": "default"}
    assert "namespace" not in event["involvedObject"]
    assert event["involvedObject"]["kind"] == "PersistentVolume"
