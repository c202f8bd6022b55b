"""The Helm chart with the real helm binary: lint, template, install on a local host; and
`subkube run`, the foreground runner the chart's pod executes."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from subkube import podman
from subkube.config.model import Sync
from subkube.daemonize import pid_alive
from subkube.hostcluster.engine import HOST_LABEL
from subkube.image import recipe
from subkube.syncer import registry
from tests.conftest import kubectl, namespace_snapshot, require_binary, subkube, wait_for
from tests.e2e.streams import check_cp, check_exec, check_port_forward

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("runner_image")]

CHART = Path(__file__).parents[2] / "charts" / "subkube"


def helm(
    *args: str, kubeconfig: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HELM_CACHE_HOME": "/tmp/subkube-helm-cache",
        "HELM_CONFIG_HOME": "/tmp/subkube-helm-config",
    }
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [str(require_binary("helm")), *args],
        capture_output=True,
        text=True,
        check=check,
        env=env,
        timeout=300,
    )


def kinds(rendered: str) -> list[str]:
    return sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)


def test_lint_is_clean() -> None:
    res = helm("lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in res.stdout


def test_default_rbac_stays_in_the_namespace() -> None:
    docs = kinds(helm("template", "vc1", str(CHART), "-n", "team-a").stdout)
    assert docs == [
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceAccount",
        "StatefulSet",
    ]


@pytest.mark.parametrize(
    "flag", ["sync.fromHost.nodes.enabled=true", "sync.fromHost.storageClasses.enabled=true"]
)
def test_cluster_role_only_for_features_that_need_it(flag: str) -> None:
    docs = kinds(helm("template", "vc1", str(CHART), "--set", flag).stdout)
    assert "ClusterRole" in docs
    assert "ClusterRoleBinding" in docs


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"toHost.networkPolicies.enabled": True},
        {"toHost.ingresses.enabled": True},
        {"toHost.serviceAccounts.enabled": True},
        {"toHost.podDisruptionBudgets.enabled": True},
        {"toHost.priorityClasses.enabled": True},
        {"toHost.storageClasses.enabled": True},
        {"toHost.persistentVolumes.enabled": True},
        {
            "toHost.priorityClasses.enabled": True,
            "toHost.storageClasses.enabled": True,
            "toHost.persistentVolumes.enabled": True,
        },
        {"fromHost.nodes.enabled": True},
        {"fromHost.nodes.enabled": True, "fromHost.nodes.syncBackChanges": True},
        {"fromHost.storageClasses.enabled": True},
        {
            "fromHost.ingressClasses.enabled": True,
            "fromHost.priorityClasses.enabled": True,
            "fromHost.runtimeClasses.enabled": True,
        },
        {"toHost.pods.enabled": True, "fromHost.runtimeClasses.enabled": True},
        {"toHost.configMaps.enabled": False, "toHost.pods.enabled": False},
        {"toHost.customResources": {"widgets.example.com": {"enabled": True}, "b.example.com": {}}},
        {
            "toHost.customResources": {"widgets.example.com": {"enabled": True}},
            "fromHost.customResources": {
                "gadgets.example.com": {
                    "enabled": True,
                    "scope": "Namespaced",
                    "namespace": "shared",
                    "selector": {"labels": {"tier": "shared"}},
                },
                "plans.billing.example.com": {"enabled": True, "scope": "Cluster"},
                "a.example.com": {"enabled": True, "scope": "Cluster"},
                "off.example.com": {"enabled": False, "scope": "Namespaced", "namespace": "x"},
            },
        },
    ],
)
def test_the_rendered_rbac_is_what_the_registry_says(values: dict[str, Any]) -> None:
    sets: list[str] = []
    data: dict[str, Any] = {}
    for path, value in values.items():
        if isinstance(value, dict):
            # A map keyed by CRD names, whose dots --set would take for a path.
            sets += ["--set-json", f"sync.{path}={json.dumps(value)}"]
        else:
            sets += ["--set", f"sync.{path}={str(value).lower()}"]
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    rendered = [
        d for d in yaml.safe_load_all(helm("template", "vc1", str(CHART), *sets).stdout) if d
    ]
    namespaced, cluster = registry.host_rules(Sync.model_validate(data))
    role = next(d for d in rendered if d["kind"] == "Role")
    assert role["rules"] == [r.as_dict() for r in namespaced]
    cluster_roles = [d for d in rendered if d["kind"] == "ClusterRole"]
    assert [r for d in cluster_roles for r in d["rules"]] == [r.as_dict() for r in cluster]


def test_network_policy_sync_is_allowed_in_the_namespace_only() -> None:
    rendered = helm(
        "template", "vc1", str(CHART), "--set", "sync.toHost.networkPolicies.enabled=true"
    ).stdout
    role = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Role")
    assert any("networkpolicies" in rule["resources"] for rule in role["rules"])
    assert "ClusterRole" not in kinds(rendered)


def test_policies_render() -> None:
    docs = kinds(
        helm(
            "template",
            "vc1",
            str(CHART),
            "--set",
            "policies.resourceQuota.enabled=true",
            "--set",
            "policies.limitRange.enabled=true",
            "--set",
            "policies.networkPolicy.enabled=true",
        ).stdout
    )
    assert {"ResourceQuota", "LimitRange", "NetworkPolicy"} <= set(docs)


def test_the_schema_rejects_what_subkube_yaml_rejects() -> None:
    res = helm("template", "vc1", str(CHART), "--set", "sync.toHost.podz.enabled=true", check=False)
    assert res.returncode != 0
    assert "podz" in res.stderr


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    env = {"SUBKUBE_STATE_DIR": str(tmp_path_factory.mktemp("state"))}
    up = subkube("host", "up", "--name", "chart", "--nodes", "1", env=env)
    assert up.returncode == 0, up.stderr
    kc = Path(subkube("host", "kubeconfig", "--name", "chart", env=env).stdout.strip())
    yield env, kc
    subkube("host", "down", "--name", "chart", "--purge", env=env)


def names_of(kc: Path, *args: str) -> set[str]:
    out = kubectl(kc, "get", *args, "-o", "json").stdout
    return {f"{i['kind']}/{i['metadata']['name']}" for i in json.loads(out)["items"]}


def test_install_creates_the_objects_and_nothing_cluster_wide(
    host: tuple[dict[str, str], Path],
) -> None:
    _, kc = host
    cluster_before = names_of(kc, "clusterroles,clusterrolebindings")
    helm(
        "install",
        "vc1",
        str(CHART),
        "-n",
        "team-a",
        "--create-namespace",
        "--set",
        "controlPlane.statefulSet.persistence.enabled=false",
        kubeconfig=kc,
    )
    objects = names_of(
        kc, "-n", "team-a", "statefulsets,services,secrets,serviceaccounts,roles,rolebindings"
    )
    assert {
        "StatefulSet/vc1",
        "Service/vc1",
        "Service/vc1-headless",
        "Secret/vc1-config",
        "ServiceAccount/vc-vc1",
        "ServiceAccount/subkube-workload-vc1",
        "Role/vc-vc1",
        "RoleBinding/vc-vc1",
    } <= objects
    assert names_of(kc, "clusterroles,clusterrolebindings") == cluster_before
    config = json.loads(
        kubectl(kc, "-n", "team-a", "get", "secret", "vc1-config", "-o", "json").stdout
    )
    assert config["data"]["subkube.yaml"]
    wait_for(
        "the StatefulSet's pod (on a kwok node)",
        lambda: (
            kubectl(
                kc,
                "-n",
                "team-a",
                "get",
                "pod",
                "vc1-0",
                "-o",
                "jsonpath={.status.phase}",
                check=False,
            ).stdout
            == "Running"
        ),
    )
    helm("uninstall", "vc1", "-n", "team-a", kubeconfig=kc)
    assert not any(
        n.endswith("vc1") for n in names_of(kc, "-n", "team-a", "statefulsets,roles,rolebindings")
    )


def test_subkube_run_serves_a_vcluster_in_the_foreground(
    host: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, kc = host
    kubectl(kc, "create", "namespace", "fg")
    venv_bin = Path(sys.executable).parent
    proc = subprocess.Popen(
        [
            str(venv_bin / "subkube"),
            "run",
            "fg1",
            "-n",
            "fg",
            "--kubeconfig",
            str(kc),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_path = tmp_path / "data" / "vclusters" / "fg" / "fg1" / "state.json"

    def running() -> dict[str, Any] | None:
        if proc.poll() is not None:
            pytest.fail(f"subkube run exited: {proc.stderr.read() if proc.stderr else ''}")
        if not state_path.exists():
            return None
        state = json.loads(state_path.read_text())
        return state if state["phase"] == "Running" else None

    try:
        state = wait_for("subkube run to serve the vcluster", running, 120)
        kubectl(Path(state["kubeconfig"]), "create", "namespace", "inside")
        assert kubectl(kc, "get", "namespace", "inside", check=False).returncode != 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert not any(pid_alive(p) for p in state["components"].values())


def runner_containers(env: dict[str, str], host: str = "chart") -> list[str]:
    """Images of the containers the local host HOST runs, as `podman ps` lists them."""
    if not podman.available():
        return []
    host_dir = Path(env["SUBKUBE_STATE_DIR"]) / "hosts" / host
    listed = subprocess.run(
        podman.argv(
            "ps", "-a", "--filter", f"label={HOST_LABEL}={host_dir}", "--format", "{{.Image}}"
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def image_processes(kc: Path) -> list[int]:
    """Processes of the image's entry point in pods of this host (their environment names
    its API port)."""
    entry = f"{recipe.APP_DIR}/bin/subkube".encode()
    port = yaml.safe_load(kc.read_text())["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1]
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or entry not in (proc / "cmdline").read_bytes():
                continue
            if f"KUBERNETES_SERVICE_PORT={port}\0".encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_the_helm_driver_runs_the_chart_end_to_end(
    host: tuple[dict[str, str], Path], tmp_path: Path, runner_image: str | None
) -> None:
    """`--driver helm` on the local host: the chart's pod really runs (a container of the
    runner image where podman is installed, with the chart's namespaced Role as its only
    rights), a port-forward reaches its API, and pause/resume/delete work through helm."""
    env, kc = host
    user_kc = tmp_path / "user-kubeconfig"
    shutil.copy(kc, user_kc)
    env = {**env, "KUBECONFIG": str(user_kc)}
    kubectl(kc, "create", "namespace", "helm-ns")
    wait_for(
        "the namespace's default ServiceAccount and root CA",
        lambda: (
            {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
            <= namespace_snapshot(kc, "helm-ns")
        ),
    )
    before = namespace_snapshot(kc, "helm-ns")

    res = subkube("create", "vh", "-n", "helm-ns", "--driver", "helm", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "port-forward on 127.0.0.1:" in res.stdout
    status = json.loads(subkube("host", "status", "--name", "chart", "-o", "json", env=env).stdout)
    if runner_image is not None:
        assert status[0]["runtime"] == "container (podman)"
        assert runner_containers(env) == [runner_image]
        # `kubectl exec` enters the container: its user is the image's, not this machine's.
        uid = kubectl(kc, "-n", "helm-ns", "exec", "vh-0", "--", "id", "-u").stdout
        assert uid.strip() == str(recipe.USER_ID)
    else:
        assert status[0]["runtime"].startswith("process")
    releases = json.loads(helm("list", "-n", "helm-ns", "-o", "json", kubeconfig=kc).stdout)
    assert [r["name"] for r in releases] == ["vh"]
    # Connected: the user's current context is the vcluster, through the port-forward.
    inside = kubectl(user_kc, "get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/kube-system" in inside
    assert "namespace/helm-ns" not in inside
    # The chart keeps the PKI in its pod: a client sees the kubeconfig's and the served ones.
    checked = subkube("certs", "check", "vh", "-n", "helm-ns", "-o", "json", env=env)
    assert checked.returncode == 0, checked.stderr
    assert {r["name"] for r in json.loads(checked.stdout)} == {
        "kubeconfig CA",
        "kubeconfig client",
        "serving (live)",
    }
    kubectl(user_kc, "create", "deployment", "web", "--image=nginx", "--replicas=2")

    def web_pods_on_the_host() -> list[str]:
        out = kubectl(kc, "-n", "helm-ns", "get", "pods", "-o", "name").stdout.split()
        return [p for p in out if p.startswith("pod/web-") and p.endswith("-x-default-x-vh")]

    wait_for("the tenant's pods on the host", lambda: len(web_pods_on_the_host()) == 2)
    # kubectl on the tenant's pods goes through the chart pod's kubelet endpoint, with the
    # chart's namespaced Role as its only rights on the host.
    kubectl(user_kc, "wait", "--for=condition=available", "deployment/web", "--timeout=120s")
    assert kubectl(user_kc, "exec", "deploy/web", "--", "echo", "inside").stdout == "inside\n"
    assert "started" in kubectl(user_kc, "logs", "deploy/web").stdout
    # The rest of what a tenant does with its pods, the way test_tenant_kubectl checks it.
    pod = kubectl(
        user_kc, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"
    ).stdout
    check_exec(user_kc, "default", pod, "nginx")
    check_cp(user_kc, "default", pod, "nginx", tmp_path)
    check_port_forward(user_kc, "default", f"pod/{pod}", 80)
    stamped = kubectl(user_kc, "logs", pod, "--timestamps", "--tail=1").stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z .+\n", stamped), stamped
    # The data volume came from the local host's default storage class.
    claim = kubectl(
        kc, "-n", "helm-ns", "get", "pvc", "data-vh-0", "-o", "jsonpath={.status.phase}"
    )
    assert claim.stdout == "Bound"
    assert "vcluster running" in kubectl(kc, "-n", "helm-ns", "logs", "vh-0").stdout
    rows = {r["name"]: r for r in json.loads(subkube("list", "-o", "json", env=env).stdout)}
    assert (rows["vh"]["driver"], rows["vh"]["status"]) == ("helm", "Running")
    assert rows["vh"]["connected"]

    state_file = Path(env["SUBKUBE_STATE_DIR"]) / "vclusters" / "helm-ns" / "vh" / "state.json"
    forwarder = json.loads(state_file.read_text())["forwarder_pid"]
    assert pid_alive(forwarder)
    assert subkube("pause", "vh", "-n", "helm-ns", env=env).returncode == 0
    assert (
        kubectl(kc, "-n", "helm-ns", "get", "sts", "vh", "-o", "jsonpath={.spec.replicas}").stdout
        == "0"
    )
    assert web_pods_on_the_host() == []
    assert not pid_alive(forwarder)
    wait_for(
        "no container and no process of the runner left",
        lambda: runner_containers(env) == [] and image_processes(kc) == [],
    )
    rows = {r["name"]: r for r in json.loads(subkube("list", "-o", "json", env=env).stdout)}
    assert rows["vh"]["status"] == "Paused"

    res = subkube("resume", "vh", "-n", "helm-ns", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    # The store survived on the claim, and the same context reaches the new pod.
    assert kubectl(user_kc, "get", "deployment", "web", "-o", "name").stdout.strip() == (
        "deployment.apps/web"
    )
    wait_for("the tenant's pods back on the host", lambda: len(web_pods_on_the_host()) == 2)
    forwarder = json.loads(state_file.read_text())["forwarder_pid"]
    assert pid_alive(forwarder)

    res = subkube("delete", "vh", "-n", "helm-ns", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(helm("list", "-A", "-o", "json", kubeconfig=kc).stdout) == []
    wait_for(
        "the namespace as it was before create",
        lambda: namespace_snapshot(kc, "helm-ns") == before,
    )
    wait_for(
        "the data volume to be released and removed",
        lambda: kubectl(kc, "get", "pv", "-o", "name").stdout.strip() == "",
    )
    assert not pid_alive(forwarder)
    wait_for(
        "no container and no process of the runner left",
        lambda: runner_containers(env) == [] and image_processes(kc) == [],
    )


def test_an_image_not_built_is_named_with_how_to_build_it(
    host: tuple[dict[str, str], Path], runner_image: str | None
) -> None:
    """With containers, the pod waits for its image (nothing is ever pulled), and `create`
    ends in one line naming it and `make image`."""
    if runner_image is None:
        pytest.skip("the process runtime runs this installation's subkube: there is no image")
    env, kc = host
    res = subkube(
        "create",
        "vmiss",
        "-n",
        "miss",
        "--driver",
        "helm",
        "--no-connect",
        "--timeout",
        "20",
        "--set",
        "controlPlane.statefulSet.image.tag=not-built",
        env={**env, "KUBECONFIG": str(kc)},
    )
    try:
        assert res.returncode == 1, res.stdout + res.stderr
        assert "subkube/subkube:not-built" in res.stderr
        assert "make image" in res.stderr
        assert runner_containers(env) == []
    finally:
        subkube("delete", "vmiss", "-n", "miss", env={**env, "KUBECONFIG": str(kc)})


def test_with_the_process_runtime_the_pod_is_a_local_process(tmp_path: Path) -> None:
    """`host up --runtime process` (what a machine without podman gets): the same chart's
    pod runs as this installation's subkube, and `host status` says so."""
    env = {"SUBKUBE_STATE_DIR": str(tmp_path / "state")}
    up = subkube("host", "up", "--name", "proc", "--nodes", "1", "--runtime", "process", env=env)
    assert up.returncode == 0, up.stderr
    kc = Path(subkube("host", "kubeconfig", "--name", "proc", env=env).stdout.strip())
    try:
        status = json.loads(
            subkube("host", "status", "--name", "proc", "-o", "json", env=env).stdout
        )
        assert status[0]["runtime"] == "process (no podman/runc installed)"
        env = {**env, "KUBECONFIG": str(kc)}
        res = subkube("create", "vp", "-n", "proc-ns", "--driver", "helm", "--no-connect", env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        # `kubectl exec` runs beside the process, as this machine's user.
        uid = kubectl(kc, "-n", "proc-ns", "exec", "vp-0", "--", "id", "-u").stdout
        assert uid.strip() == str(os.getuid())
        assert runner_containers({"SUBKUBE_STATE_DIR": env["SUBKUBE_STATE_DIR"]}, "proc") == []
        assert subkube("delete", "vp", "-n", "proc-ns", env=env).returncode == 0
    finally:
        subkube("host", "down", "--name", "proc", "--purge", env=env)
