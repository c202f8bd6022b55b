"""Isolation against a tenant who is cluster-admin inside: every escape is tried through
real kubectl, after the tenant has labelled its namespace `privileged` and deleted every
admission object it can. The syncer refuses what breaks the vcluster's level; the host
sees nothing of it."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from subkube.syncer import names
from subkube.syncer.resources.pods import security
from subkube.syncer.resources.pods.translate import token_secret_name
from tests.conftest import kubectl, wait_for
from tests.e2e.lab import HostLab

pytestmark = pytest.mark.e2e

HOST = "iso"
ENFORCE = "pod-security.kubernetes.io/enforce"
# vcluster -> (host namespace, level)
VCLUSTERS = {"base": ("iso-base", "baseline"), "strict": ("iso-strict", "restricted")}


class Lab(HostLab):
    def v(self, vc: str, *args: str, check: bool = True, stdin: str | None = None) -> Any:
        return kubectl(self.kc[vc], *args, check=check, stdin=stdin)

    def v_json(self, vc: str, *args: str) -> Any:
        return json.loads(self.v(vc, *args, "-o", "json").stdout)

    def apply(self, vc: str, obj: dict[str, Any], *flags: str, check: bool = True) -> Any:
        return self.v(vc, "apply", *flags, "-f", "-", stdin=json.dumps(obj), check=check)

    def create(self, vc: str, namespace: str, level: str) -> subprocess.CompletedProcess[str]:
        res = self.cli(
            "create",
            vc,
            "-n",
            namespace,
            "--no-connect",
            "--set",
            f"policies.podSecurityStandard={level}",
        )
        assert res.returncode == 0, res.stdout + res.stderr
        self.kc[vc] = Path(self.cli("kubeconfig", vc, "-n", namespace).stdout.strip())
        return res

    def metrics(self, vc: str) -> str:
        namespace = VCLUSTERS.get(vc, ("iso-open", ""))[0]
        state = json.loads((self.state / "vclusters" / namespace / vc / "state.json").read_text())
        return httpx.get(state["metrics"], timeout=5).text


def escalate(lab: Lab, vc: str, namespace: str) -> None:
    """What a cluster-admin tenant can do against admission inside."""
    lab.v(vc, "create", "namespace", namespace)
    lab.v(vc, "label", "namespace", namespace, f"{ENFORCE}=privileged", "--overwrite")
    lab.v(
        vc,
        "delete",
        "validatingwebhookconfigurations,mutatingwebhookconfigurations,"
        "validatingadmissionpolicies,validatingadmissionpolicybindings",
        "--all",
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("iso"))
    with lab.running(HOST, nodes=2):
        for vc, (namespace, level) in VCLUSTERS.items():
            lab.create(vc, namespace, level)
            escalate(lab, vc, "escape")
        yield lab


def pod(name: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    base = {"containers": [{"name": "c", "image": "busybox"}]}
    merged = {**base, **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": merged}


def sc(**context: Any) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "busybox", "securityContext": context}]}


# Each escape, and the field the refusal names.
ESCAPES = {
    "host-path": (
        {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        "spec.volumes[0].hostPath",
    ),
    "host-network": ({"hostNetwork": True}, "spec.hostNetwork"),
    "host-pid": ({"hostPID": True}, "spec.hostPID"),
    "host-ipc": ({"hostIPC": True}, "spec.hostIPC"),
    "privileged": (sc(privileged=True), "spec.containers[0].securityContext.privileged"),
    "sys-admin": (
        sc(capabilities={"add": ["SYS_ADMIN"]}),
        "spec.containers[0].securityContext.capabilities.add[0]",
    ),
    "host-port": (
        {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                }
            ]
        },
        "spec.containers[0].ports[0].hostPort",
    ),
    "unmasked-proc": (
        sc(procMount="Unmasked"),
        "spec.containers[0].securityContext.procMount",
    ),
    "unsafe-sysctl": (
        {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}},
        "spec.securityContext.sysctls[0].name",
    ),
    "no-seccomp": (
        sc(seccompProfile={"type": "Unconfined"}),
        "spec.containers[0].securityContext.seccompProfile.type",
    ),
    "no-apparmor": (
        {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
        "spec.securityContext.appArmorProfile.type",
    ),
}


def host_pod(lab: Lab, vc: str, name: str, namespace: str = "escape") -> dict[str, Any] | None:
    res = lab.host(
        "-n",
        VCLUSTERS.get(vc, ("iso-open", ""))[0],
        "get",
        "pod",
        names.host_name(name, namespace, vc),
        "-o",
        "json",
        check=False,
    )
    return json.loads(res.stdout) if res.returncode == 0 else None


def refusal(lab: Lab, vc: str, name: str, namespace: str = "escape") -> str | None:
    """The message of the syncer's Warning event about the pod, once there is one."""
    events = lab.v_json(
        vc, "-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={name}"
    )
    for event in events["items"]:
        if event["type"] == "Warning" and event["reason"] == "Forbidden":
            return str(event["message"])
    return None


def apply_escapes(lab: Lab, vc: str) -> list[str]:
    """Every escape pod tried in VC's namespace `escape`; the names the API server stored."""
    stored = []
    for name, (spec, _) in ESCAPES.items():
        created = lab.apply(vc, pod(name, spec, namespace="escape"), check=False)
        # The API server's own validation may refuse it first (it is the tenant's API):
        # that is a refusal too.
        assert created.returncode == 0 or "Invalid" in created.stderr, created.stderr
        if created.returncode == 0:
            stored.append(name)
    return stored


def test_admission_refuses_first_with_the_plain_clusters_message(lab: Lab) -> None:
    host_path = pod("host-path", ESCAPES["host-path"][0], namespace="default")
    refused = lab.apply("base", host_path, check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "baseline:latest": hostPath volumes' in refused.stderr


def test_every_escape_is_refused_by_the_syncer_and_nothing_reaches_the_host(lab: Lab) -> None:
    for name in apply_escapes(lab, "base"):
        field = ESCAPES[name][1]
        message = wait_for(f"the refusal of {name}", lambda n=name: refusal(lab, "base", n))
        assert f"{field}: forbidden by baseline" in message
        status = lab.v_json("base", "-n", "escape", "get", "pod", name)["status"]
        scheduled = [c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"]
        assert scheduled[0]["status"] == "False"
        assert scheduled[0]["reason"] == "Forbidden"
        assert field in scheduled[0]["message"]
        assert host_pod(lab, "base", name) is None, f"{name} reached the host"


def test_the_syncer_and_admission_agree_on_every_pod(lab: Lab) -> None:
    """The same verdict as a plain cluster's Pod Security admission, for each level."""
    compliant = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    samples = {**{n: s for n, (s, _) in ESCAPES.items()}, "plain": {}, "compliant": compliant}
    for level in ("baseline", "restricted"):
        namespace = f"judge-{level}"
        lab.v("base", "create", "namespace", namespace)
        lab.v("base", "label", "namespace", namespace, f"{ENFORCE}={level}")
        for name, spec in samples.items():
            manifest = pod(name, spec, namespace=namespace)
            dry = lab.apply("base", manifest, "--dry-run=server", check=False)
            if "Invalid value" in dry.stderr:
                continue  # refused by validation before any policy
            admitted = dry.returncode == 0
            ours = security.violations(manifest, level)
            assert admitted == (not ours), f"{name} at {level}: admission {admitted}, syncer {ours}"


def test_restricted_refuses_root_and_runs_a_compliant_pod(lab: Lab) -> None:
    root = pod("root", sc(runAsUser=0), namespace="escape")
    good = pod(
        "good",
        {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            **sc(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]}),
        },
        namespace="escape",
    )
    for manifest in (root, good):
        lab.apply("strict", manifest)
    message = wait_for("the refusal of root", lambda: refusal(lab, "strict", "root"))
    assert "spec.containers[0].securityContext.runAsUser: forbidden by restricted" in message
    wait_for(
        "the compliant pod Running",
        lambda: (
            lab.v_json("strict", "-n", "escape", "get", "pod", "good")["status"].get("phase")
            == "Running"
        ),
    )
    assert host_pod(lab, "strict", "good") is not None
    assert host_pod(lab, "strict", "root") is None
    # The host namespace subkube made enforces the same level.
    labels = lab.host_json("get", "namespace", "iso-strict")["metadata"]["labels"]
    assert labels[ENFORCE] == "restricted"


def test_a_fixed_workload_goes_through(lab: Lab) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "escape"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    lab.apply("base", deployment)

    def app_pods() -> list[dict[str, Any]]:
        return list(lab.v_json("base", "-n", "escape", "get", "pods", "-l", "app=app")["items"])

    wait_for(
        "the app's pod refused",
        lambda: [p for p in app_pods() if refusal(lab, "base", p["metadata"]["name"])],
    )
    lab.v(
        "base",
        "-n",
        "escape",
        "patch",
        "deployment",
        "app",
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/template/spec/hostNetwork"}]',
    )
    wait_for(
        "the fixed pod on the host",
        lambda: [p for p in app_pods() if host_pod(lab, "base", p["metadata"]["name"])],
    )


def test_refused_pods_in_a_loop_cost_no_host_writes_and_no_retries(lab: Lab) -> None:
    def count(metric: str) -> float:
        for line in lab.metrics("base").splitlines():
            if line.startswith(metric):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    creates = 'subkube_operations_total{kind="pods",operation="create",vcluster="base"}'
    reconciles = 'subkube_reconcile_seconds_count{kind="pods",vcluster="base"}'
    before = count(creates)
    manifests = [pod(f"loop-{i}", {"hostNetwork": True}, namespace="escape") for i in range(100)]
    lab.apply("base", {"apiVersion": "v1", "kind": "List", "items": manifests})
    wait_for(
        "all 100 refused",
        lambda: (
            sum(
                1
                for p in lab.v_json("base", "-n", "escape", "get", "pods")["items"]
                if p["metadata"]["name"].startswith("loop-")
                and any(c.get("reason") == "Forbidden" for c in p["status"].get("conditions") or [])
            )
            == 100
        ),
    )
    settled = count(reconciles)
    assert count(creates) == before, "no host pod was created"
    # Nothing keeps going: no reconcile of a refused pod after its refusal was told.
    time.sleep(3)
    assert count(reconciles) == settled, "refused pods are not retried"
    loop_pods = [
        p
        for p in lab.host_json("-n", "iso-base", "get", "pods")["items"]
        if p["metadata"]["annotations"].get(names.ANNOTATION_NAME, "").startswith("loop-")
    ]
    assert loop_pods == []


def test_names_a_pod_gives_never_reach_raw_host_objects(lab: Lab) -> None:
    # What the chart's runner publishes beside the tenant's pods: the admin kubeconfig.
    kubeconfig_secret = "vc-base"
    lab.host(
        "-n",
        "iso-base",
        "create",
        "secret",
        "generic",
        kubeconfig_secret,
        "--from-literal=config=admin",
    )
    other = names.host_name("data", "escape", "strict")
    spec = {
        "volumes": [
            {"name": "a", "secret": {"secretName": kubeconfig_secret}},
            {"name": "b", "secret": {"secretName": other}},
            {"name": "c", "projected": {"sources": [{"secret": {"name": "vc-strict"}}]}},
            {"name": "d", "persistentVolumeClaim": {"claimName": "data-vh-0"}},
        ],
        "imagePullSecrets": [{"name": kubeconfig_secret}],
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "envFrom": [{"secretRef": {"name": kubeconfig_secret}}],
            }
        ],
    }
    lab.v("base", "create", "namespace", "thief")
    lab.apply("base", pod("thief", spec, namespace="thief"))
    found = wait_for("the host pod", lambda: host_pod(lab, "base", "thief", "thief"))
    translated = {
        names.host_name(n, "thief", "base")
        for n in (kubeconfig_secret, other, "vc-strict", "data-vh-0")
    }
    # And the pod's own service-account token, minted inside.
    translated.add(token_secret_name(found["metadata"]["name"]))
    volumes = found["spec"]["volumes"]
    given = [v["secret"]["secretName"] for v in volumes if "secret" in v]
    given += [
        s["secret"]["name"]
        for v in volumes
        if "projected" in v
        for s in v["projected"]["sources"]
        if "secret" in s
    ]
    given += [
        v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
    ]
    given += [s["name"] for s in found["spec"]["imagePullSecrets"]]
    given += [e["secretRef"]["name"] for e in found["spec"]["containers"][0]["envFrom"]]
    assert set(given) <= translated
    assert kubeconfig_secret not in given


def test_tenant_pods_hold_no_rights_on_the_host(lab: Lab) -> None:
    workload = "system:serviceaccount:iso-base:subkube-workload-base"
    for verb, resource in (
        ("get", "secrets"),
        ("list", "pods"),
        ("create", "pods"),
        ("get", "services"),
    ):
        answer = lab.host(
            "auth", "can-i", verb, resource, "-n", "iso-base", f"--as={workload}", check=False
        )
        assert answer.stdout.strip() == "no", (verb, resource)
    host_pods = lab.host_json(
        "-n", "iso-base", "get", "pods", "-l", f"{names.LABEL_MANAGED_BY}=base"
    )
    for p in host_pods["items"]:
        assert p["spec"]["serviceAccountName"] == "subkube-workload-base"
        assert p["spec"]["automountServiceAccountToken"] is False


def test_privileged_is_an_explicit_opt_out_that_warns(lab: Lab) -> None:
    res = lab.create("open", "iso-open", "privileged")
    warned = " ".join(res.stderr.split())
    assert "podSecurityStandard=privileged" in warned
    assert "root on the host's nodes" in warned
    escalate(lab, "open", "escape")
    for name in apply_escapes(lab, "open"):
        wait_for(f"{name} on the host", lambda n=name: host_pod(lab, "open", n))


def test_lowering_the_level_lets_refused_pods_through(lab: Lab) -> None:
    res = lab.cli(
        "create",
        "base",
        "-n",
        "iso-base",
        "--upgrade",
        "--no-connect",
        "--set",
        "policies.podSecurityStandard=privileged",
    )
    assert res.returncode == 0, res.stderr
    assert (
        lab.host_json("get", "namespace", "iso-base")["metadata"]["labels"][ENFORCE] == "privileged"
    )
    wait_for("the host-network pod on the host", lambda: host_pod(lab, "base", "host-network"))
