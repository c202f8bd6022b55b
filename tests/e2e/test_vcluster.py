"""A vcluster on a real local host, used as a tenant and an admin would: real kubectl."""

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from subkube.daemonize import pid_alive
from tests.conftest import kubectl, subkube, wait_for

pytestmark = pytest.mark.e2e

NS = "team-a"
VC = "vc1"
APP = Path(__file__).parent / "manifests" / "web-app.yaml"


class Env:
    def __init__(self, state: Path) -> None:
        self.env = {"SUBKUBE_STATE_DIR": str(state)}
        self.host_kc = Path()
        self.vc_kc = Path()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subkube(*args, env={**self.env, "KUBECONFIG": str(self.host_kc)})

    def host(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.host_kc, *args, check=check)

    def virtual(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(self.vc_kc, *args, check=check, stdin=stdin)

    def host_json(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self.host(*args, "-o", "json").stdout)["items"]

    def virtual_json(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self.virtual(*args, "-o", "json").stdout)["items"]

    def runner_state(self) -> dict[str, Any]:
        path = Path(self.env["SUBKUBE_STATE_DIR"]) / "vclusters" / NS / VC / "state.json"
        return json.loads(path.read_text())

    def create(self) -> None:
        res = self.cli("create", VC, "-n", NS, "--no-connect")
        assert res.returncode == 0, res.stdout + res.stderr
        self.vc_kc = Path(self.cli("kubeconfig", VC, "-n", NS).stdout.strip())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = Env(tmp_path_factory.mktemp("state"))
    up = subkube("host", "up", "--name", "vc-e2e", "--nodes", "3", env=e.env)
    assert up.returncode == 0, up.stdout + up.stderr
    e.host_kc = Path(subkube("host", "kubeconfig", "--name", "vc-e2e", env=e.env).stdout.strip())
    try:
        e.create()
        yield e
    finally:
        e.cli("delete", VC, "-n", NS)
        subkube("host", "down", "--name", "vc-e2e", "--purge", env=e.env)


def host_pods(env: Env, selector: str = "app=web") -> list[dict[str, Any]]:
    return env.host_json("-n", NS, "get", "pods", "-l", selector)


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


@pytest.fixture(scope="module")
def app(env: Env) -> Env:
    for ns in ("demo", "other"):
        env.virtual("create", "namespace", ns)
        env.virtual("-n", ns, "apply", "-f", str(APP))
    wait_for("6 Running host pods", lambda: len(running(host_pods(env))) == 6)
    return env


def test_tenant_objects_reach_the_host_translated(app: Env) -> None:
    pods = host_pods(app)
    assert (
        sorted(p["metadata"]["annotations"]["subkube.io/object-namespace"] for p in pods)
        == ["demo"] * 3 + ["other"] * 3
    )
    assert all(p["metadata"]["name"].endswith(f"-x-{VC}") for p in pods)
    for ns in ("demo", "other"):
        vsvc = json.loads(app.virtual("-n", ns, "get", "svc", "web", "-o", "json").stdout)
        hsvc = json.loads(
            app.host("-n", NS, "get", "svc", f"web-x-{ns}-x-{VC}", "-o", "json").stdout
        )
        assert vsvc["spec"]["clusterIP"] == hsvc["spec"]["clusterIP"]
        assert hsvc["spec"]["selector"]["subkube.io/namespace"] == ns
        cm = json.loads(
            app.host("-n", NS, "get", "cm", f"web-config-x-{ns}-x-{VC}", "-o", "json").stdout
        )
        assert cm["data"] == {"index.html": "hello"}
        app.host("-n", NS, "get", "secret", f"web-secret-x-{ns}-x-{VC}")
    unreferenced = app.host("-n", NS, "get", "cm", f"unused-x-demo-x-{VC}", check=False)
    assert unreferenced.returncode != 0, "a ConfigMap no pod uses stays inside"


def test_certs_check_lists_every_certificate_and_its_expiry(app: Env) -> None:
    res = app.cli("certs", "check", VC, "-n", NS, "-o", "json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    for name in ("ca", "apiserver", "admin", "kubeconfig CA", "kubeconfig client"):
        assert name in rows, sorted(rows)
    now = dt.datetime.now(dt.UTC)
    for row in rows.values():
        assert dt.datetime.fromisoformat(row["notAfter"]) > now + dt.timedelta(days=300)
    # What the API server serves is the certificate on disk.
    assert rows["serving (live)"]["notAfter"] == rows["apiserver"]["notAfter"]
    assert rows["kubeconfig CA"]["subject"] == rows["ca"]["subject"]
    table = app.cli("certs", "check", VC, "-n", NS)
    assert "NOTAFTER" in table.stdout
    assert "REMAINING" in table.stdout
    missing = app.cli("certs", "check", "nope", "-n", NS)
    assert missing.returncode != 0
    assert "no vcluster nope" in missing.stderr


def test_the_syncer_exports_metrics(app: Env) -> None:
    text = httpx.get(app.runner_state()["metrics"], timeout=5).text
    assert f'subkube_synced_objects{{kind="pods",vcluster="{VC}"}}' in text
    assert 'subkube_queue_depth{kind="configmaps"' in text
    assert 'subkube_operations_total{kind="pods",operation="create"' in text
    assert "subkube_reconcile_seconds_bucket" in text


def test_nothing_of_the_host_is_visible_inside(app: Env) -> None:
    namespaces = {n["metadata"]["name"] for n in app.virtual_json("get", "namespaces")}
    assert NS not in namespaces
    assert namespaces == {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "demo",
        "other",
    }
    vpods = app.virtual_json("get", "pods", "-A")
    assert {p["metadata"]["namespace"] for p in vpods} == {"demo", "other", "kube-system"}


def test_pods_run_inside_bound_to_fake_nodes(app: Env) -> None:
    def running() -> list[dict[str, Any]] | None:
        pods = [
            p
            for p in app.virtual_json("get", "pods", "-A")
            if p["status"].get("phase") == "Running"
            and p["status"].get("podIP")
            and p["spec"].get("nodeName")
        ]
        return pods if len(pods) == 7 else None  # 6 web + CoreDNS

    vpods = wait_for("7 Running virtual pods", running)
    used = {p["spec"]["nodeName"] for p in vpods}
    nodes = {n["metadata"]["name"] for n in app.virtual_json("get", "nodes")}
    assert nodes == used
    host_nodes = {n["metadata"]["name"] for n in app.host_json("get", "nodes")}
    assert nodes <= host_nodes


def test_host_events_show_inside_without_host_names(app: Env) -> None:
    def scheduled() -> list[dict[str, Any]]:
        events = app.virtual_json("-n", "demo", "get", "events")
        return [e for e in events if e["reason"] == "Scheduled"]

    events = wait_for("the host scheduler's events inside", scheduled)
    for event in app.virtual_json("get", "events", "-A"):
        assert f"-x-{VC}" not in event["message"], event["message"]
        assert NS not in event["message"]
    assert events[0]["involvedObject"]["namespace"] == "demo"


def test_the_virtual_api_service_has_the_vcluster_service_ip(app: Env) -> None:
    vip = app.virtual("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
    hip = app.host("-n", NS, "get", "svc", VC, "-o", "jsonpath={.spec.clusterIP}").stdout
    assert vip == hip
    dns = app.virtual(
        "-n", "kube-system", "get", "svc", "kube-dns", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    pod = host_pods(app)[0]
    assert pod["spec"]["dnsConfig"]["nameservers"] == [dns]
    assert pod["spec"]["hostAliases"][0]["ip"] == hip


def test_a_service_ip_taken_on_the_host_is_refused_or_replaced_inside(app: Env) -> None:
    app.host("-n", NS, "create", "service", "clusterip", "squatter", "--tcp=80:80")
    taken = app.host("-n", NS, "get", "svc", "squatter", "-o", "jsonpath={.spec.clusterIP}").stdout
    clash = ("-n", "demo", "create", "service", "clusterip", "clash", "--tcp=80:80")
    try:
        # Admission creates the host Service first: the address is refused as on a plain
        # cluster where it is taken.
        refused = app.virtual(*clash, f"--clusterip={taken}", check=False)
        assert refused.returncode != 0
        assert "already allocated" in refused.stderr, refused.stderr
        assert f"clash-x-demo-x-{VC}" not in refused.stderr, "no host names in the message"
        # Without the webhook (a tenant may delete it), the sync repairs the drift instead.
        webhook = app.virtual("get", "mutatingwebhookconfiguration", "subkube", "-o", "json")
        app.virtual("delete", "mutatingwebhookconfiguration", "subkube")
        try:
            app.virtual(*clash, f"--clusterip={taken}")

            def same_new_ip() -> str | None:
                vip = app.virtual(
                    "-n", "demo", "get", "svc", "clash", "-o", "jsonpath={.spec.clusterIP}"
                ).stdout
                hip = app.host(
                    "-n",
                    NS,
                    "get",
                    "svc",
                    f"clash-x-demo-x-{VC}",
                    "-o",
                    "jsonpath={.spec.clusterIP}",
                    check=False,
                ).stdout
                return vip if vip and vip == hip and vip != taken else None

            wait_for("the virtual Service to take the host's ClusterIP", same_new_ip)
        finally:
            config = json.loads(webhook.stdout)
            config["metadata"] = {"name": "subkube"}
            app.virtual("create", "-f", "-", stdin=json.dumps(config))
    finally:
        app.host("-n", NS, "delete", "service", "squatter")


def test_selectorless_endpoints_and_claims_reach_the_host(app: Env, tmp_path: Path) -> None:
    manifest = tmp_path / "extra.yaml"
    manifest.write_text("""apiVersion: v1
kind: Service
metadata: {name: external-db, namespace: demo}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: external-db, namespace: demo}
subsets: [{addresses: [{ip: 192.0.2.10}], ports: [{port: 5432}]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: demo}
spec:
  storageClassName: fast
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
""")
    app.virtual("apply", "-f", str(manifest))

    def host_endpoints() -> list[Any]:
        out = app.host(
            "-n",
            NS,
            "get",
            "endpoints",
            f"external-db-x-demo-x-{VC}",
            "-o",
            "jsonpath={.subsets[0].addresses[*].ip}",
            check=False,
        )
        return [out.stdout] if out.stdout == "192.0.2.10" else []

    wait_for("the selector-less Endpoints on the host", host_endpoints)
    web_endpoints = app.host(
        "-n", NS, "get", "endpoints", f"web-x-demo-x-{VC}", "-o", "jsonpath={.metadata.annotations}"
    ).stdout
    assert "subkube.io/object-uid" not in web_endpoints, "the host computes selector Endpoints"
    wait_for(
        "the claim on the host",
        lambda: (
            app.host(
                "-n",
                NS,
                "get",
                "pvc",
                f"data-x-demo-x-{VC}",
                "-o",
                "jsonpath={.spec.storageClassName}",
                check=False,
            ).stdout
            == "fast"
        ),
    )


def _cluster_scoped(env: Env) -> dict[str, set[str]]:
    kinds = (
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "namespaces",
        "priorityclasses",
        "storageclasses",
        "nodes",
    )
    return {k: {o["metadata"]["name"] for o in env.host_json("get", k)} for k in kinds}


def test_cluster_scoped_objects_stay_inside(app: Env, tmp_path: Path) -> None:
    before = _cluster_scoped(app)
    app.virtual("create", "clusterrole", "tenant-reader", "--verb=get", "--resource=pods")
    crd = tmp_path / "crd.yaml"
    crd.write_text("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
""")
    app.virtual("apply", "-f", str(crd))
    app.virtual("get", "clusterrole", "tenant-reader")
    app.virtual("get", "crd", "widgets.example.com")
    time.sleep(2)
    assert _cluster_scoped(app) == before


def test_a_host_label_edit_is_put_back(app: Env) -> None:
    name = host_pods(app)[0]["metadata"]["name"]
    app.host("-n", NS, "label", "pod", name, "app=hijacked", "--overwrite")
    wait_for(
        "the label to be restored",
        lambda: (
            app.host("-n", NS, "get", "pod", name, "-o", "jsonpath={.metadata.labels.app}").stdout
            == "web"
        ),
    )


def test_a_pod_deleted_on_the_host_is_replaced(app: Env) -> None:
    victim = next(
        p
        for p in host_pods(app)
        if p["metadata"]["annotations"]["subkube.io/object-namespace"] == "demo"
    )
    vname = victim["metadata"]["annotations"]["subkube.io/object-name"]
    app.host("-n", NS, "delete", "pod", victim["metadata"]["name"], "--wait=false")
    wait_for(
        "the virtual pod to go",
        lambda: app.virtual("-n", "demo", "get", "pod", vname, check=False).returncode != 0,
    )

    def replaced() -> bool:
        vnames = {
            p["metadata"]["name"]
            for p in app.virtual_json("-n", "demo", "get", "pods")
            if p["status"].get("phase") == "Running"
        }
        return len(vnames) == 3 and vname not in vnames

    wait_for("the ReplicaSet to replace it", replaced)
    wait_for(
        "3 demo pods on the host",
        lambda: len(running(host_pods(app, "app=web,subkube.io/namespace=demo"))) == 3,
    )


def test_scaling_to_zero_and_deleting_a_namespace_clean_the_host(app: Env) -> None:
    app.virtual("-n", "demo", "scale", "deployment", "web", "--replicas=0")
    wait_for(
        "demo pods to leave the host", lambda: host_pods(app, "subkube.io/namespace=demo") == []
    )
    wait_for(
        "ConfigMaps no pod uses any more to leave the host",
        lambda: (
            app.host("-n", NS, "get", "cm", f"web-config-x-demo-x-{VC}", check=False).returncode
            != 0
        ),
    )
    app.virtual("delete", "namespace", "other", "--wait=false")

    def other_gone() -> bool:
        for kind in ("pods", "services", "configmaps", "secrets"):
            if app.host_json("-n", NS, "get", kind, "-l", "subkube.io/namespace=other"):
                return False
        return True

    wait_for("everything of namespace other to leave the host", other_gone)

    def nodes_match_pods() -> bool:
        used = {
            p["spec"].get("nodeName")
            for p in app.virtual_json("get", "pods", "-A")
            if p["spec"].get("nodeName")
        }
        return {n["metadata"]["name"] for n in app.virtual_json("get", "nodes")} == used

    wait_for("fake nodes without tenant pods to go", nodes_match_pods)
    app.virtual("-n", "demo", "delete", "deployment", "web")


def _host_pods_of(env: Env, app_label: str) -> list[dict[str, Any]]:
    return host_pods(env, f"app={app_label}")


def test_a_killed_syncer_converges_after_restart(app: Env) -> None:
    app.virtual("create", "namespace", "burst")
    app.virtual("-n", "burst", "create", "deployment", "burst", "--image=nginx", "--replicas=100")
    wait_for("the first host pods", lambda: len(_host_pods_of(app, "burst")) >= 10, 60)
    state = app.runner_state()
    os.kill(state["pid"], signal.SIGKILL)
    wait_for(
        "the runner and its control plane to exit",
        lambda: not any(pid_alive(p) for p in [state["pid"], *state["components"].values()]),
        30,
    )
    partial = len(_host_pods_of(app, "burst"))
    app.create()

    def converged() -> bool:
        vpods = [
            p
            for p in app.virtual_json("-n", "burst", "get", "pods")
            if not p["metadata"].get("deletionTimestamp")
        ]
        hpods = _host_pods_of(app, "burst")
        vnames = sorted(p["metadata"]["name"] for p in vpods)
        hnames = sorted(p["metadata"]["annotations"]["subkube.io/object-name"] for p in hpods)
        return len(vpods) == 100 and vnames == hnames and len(running(hpods)) == 100

    wait_for("exactly the 100 pods on the host", converged, 240)
    hpods = _host_pods_of(app, "burst")
    assert len({p["metadata"]["name"] for p in hpods}) == 100
    print(f"host pods when the syncer was killed: {partial}")
    app.virtual("delete", "namespace", "burst", "--wait=false")


def _synced_left(env: Env) -> list[str]:
    left = []
    for kind in (
        "pods",
        "services",
        "configmaps",
        "secrets",
        "endpoints",
        "persistentvolumeclaims",
    ):
        left += [
            f"{kind}/{o['metadata']['name']}"
            for o in env.host_json("-n", NS, "get", kind, "-l", f"subkube.io/managed-by={VC}")
        ]
    return left


def test_deleting_the_host_service_collects_every_synced_object(app: Env) -> None:
    assert _synced_left(app)
    state = app.runner_state()
    os.kill(state["pid"], signal.SIGTERM)
    wait_for("the runner to stop", lambda: not pid_alive(state["pid"]), 60)
    app.host("-n", NS, "delete", "service", VC)
    wait_for(
        "the garbage collector to remove every synced object", lambda: _synced_left(app) == [], 120
    )
    app.create()
    wait_for(
        "the vcluster to sync again", lambda: running(host_pods(app, f"subkube.io/managed-by={VC}"))
    )


def test_deleting_the_vcluster_leaves_the_namespace_as_it_was(app: Env) -> None:
    assert app.host_json("-n", NS, "get", "pods")
    res = app.cli("delete", VC, "-n", NS)
    assert res.returncode == 0, res.stderr

    def clean() -> bool:
        for kind in ("pods", "services", "configmaps", "secrets", "serviceaccounts", "endpoints"):
            left = [
                o["metadata"]["name"]
                for o in app.host_json("-n", NS, "get", kind)
                if o["metadata"]["name"] not in ("default", "kube-root-ca.crt")
            ]
            if left:
                return False
        return True

    wait_for("the host namespace to be empty of subkube objects", clean)
