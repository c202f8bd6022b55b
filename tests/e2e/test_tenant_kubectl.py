"""What a tenant does with its pods, through real kubectl inside a vcluster on a local host:
logs, exec, attach, port-forward, cp, node stats; Services, DaemonSets, Jobs, claims and
schedulers; and checked on the host side, against a second vcluster in the same namespace.
"""

import datetime as dt
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from subkube.controlplane import kwok
from subkube.controlplane.pki import ADMIN, PKI
from subkube.hostcluster import podfiles
from subkube.syncer import names
from tests.conftest import kubectl, scheduler_named, wait_for
from tests.e2e import jobs
from tests.e2e.lab import HostLab
from tests.e2e.streams import check_cp, check_exec, check_port_forward, read_until, streaming

pytestmark = pytest.mark.e2e

HOST = "tenants"
NS = "team-a"
VC, OTHER = "vc1", "vc2"
NAMESPACES = ("demo", "other")
SPARE = "kwok-node-spare"


class Lab(HostLab):
    def v(self, *args: str, vc: str = VC, check: bool = True, **kw: Any) -> Any:
        return kubectl(self.kc[vc], *args, check=check, **kw)

    def v_json(self, *args: str, vc: str = VC) -> Any:
        return json.loads(self.v(*args, "-o", "json", vc=vc).stdout)

    def log_file(self, namespace: str, pod: str, container: str, vc: str = VC) -> Path:
        home = self.state / "hosts" / HOST
        return podfiles.log_path(home, NS, names.host_name(pod, namespace, vc), container)

    def print(self, namespace: str, pod: str, container: str, text: str, **ago: float) -> None:
        """Make a simulated container print TEXT (AGO: that long ago)."""
        when = dt.datetime.now(dt.UTC) - dt.timedelta(**ago)
        with self.log_file(namespace, pod, container).open("a") as fh:
            fh.write(podfiles.cri_line(text, when))


def apply(lab: Lab, manifest: str, vc: str = VC) -> None:
    lab.v("apply", "-f", "-", stdin=manifest, vc=vc)


def phase(lab: Lab, pod: str, namespace: str = "default", vc: str = VC) -> str:
    out = lab.v(
        "-n", namespace, "get", "pod", pod, "-o", "jsonpath={.status.phase}", check=False, vc=vc
    )
    return str(out.stdout)


TWO_CONTAINERS = """apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {ns}}}
spec:
  containers:
  - {{name: a, image: busybox, ports: [{{containerPort: 8080}}]}}
  - {{name: b, image: busybox}}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("tenants"))
    with lab.running(HOST, nodes=3):
        for vc in (VC, OTHER):
            res = lab.cli("create", vc, "-n", NS, "--no-connect")
            assert res.returncode == 0, res.stdout + res.stderr
            lab.kc[vc] = Path(lab.cli("kubeconfig", vc, "-n", NS).stdout.strip())
        # A CronJob that fires every minute; test_jobs_complete_inside looks at it last.
        apply(
            lab,
            """apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: default}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [date]}]
""",
        )
        for ns in NAMESPACES:
            lab.v("create", "namespace", ns)
            apply(lab, TWO_CONTAINERS.format(ns=ns))
        for ns in NAMESPACES:
            wait_for(f"{ns}/web Running", lambda n=ns: phase(lab, "web", n) == "Running")
        yield lab


@pytest.mark.parametrize("ns", NAMESPACES)
def test_logs_with_every_option(lab: Lab, ns: str) -> None:
    lab.print(ns, "web", "a", f"old line of {ns}", hours=2)
    lab.print(ns, "web", "a", f"recent line of {ns}")
    lab.print(ns, "web", "b", f"b says {ns}")
    everything = lab.v("-n", ns, "logs", "web", "-c", "a").stdout
    assert f"old line of {ns}" in everything
    assert everything.rstrip().endswith(f"recent line of {ns}")
    assert lab.v("-n", ns, "logs", "web", "-c", "a", "--tail=1").stdout == f"recent line of {ns}\n"
    since = lab.v("-n", ns, "logs", "web", "-c", "a", "--since=1h").stdout
    assert f"recent line of {ns}" in since
    assert "old line" not in since
    stamped = lab.v("-n", ns, "logs", "web", "-c", "a", "--timestamps", "--tail=1").stdout
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z recent line of {ns}\n", stamped)
    assert lab.v("-n", ns, "logs", "web", "-c", "b").stdout.rstrip().endswith(f"b says {ns}")
    with streaming(lab.kc[VC], "-n", ns, "logs", "-f", "web", "-c", "a") as follow:
        try:
            assert follow.stdout is not None
            read_until(follow.stdout, "recent line")
            lab.print(ns, "web", "a", f"written later in {ns}")
            read_until(follow.stdout, f"written later in {ns}")
        finally:
            follow.kill()


@pytest.mark.parametrize("ns", NAMESPACES)
def test_exec_passes_stdin_and_the_exit_code(lab: Lab, ns: str) -> None:
    check_exec(lab.kc[VC], ns, "web", "a")


@pytest.mark.parametrize("ns", NAMESPACES)
def test_cp_both_ways(lab: Lab, ns: str, tmp_path: Path) -> None:
    text = check_cp(lab.kc[VC], ns, "web", "a", tmp_path)
    on_host = lab.log_file(ns, "web", "a").parent / "copied.txt"
    assert on_host.read_text() == text, "the file lives in the host pod's directory"


@pytest.mark.parametrize("ns", NAMESPACES)
def test_attach_shows_the_output(lab: Lab, ns: str) -> None:
    with streaming(lab.kc[VC], "-n", ns, "attach", "web", "-c", "a") as attach:
        try:
            assert attach.stdout is not None
            time.sleep(1)
            lab.print(ns, "web", "a", f"seen by attach in {ns}")
            read_until(attach.stdout, f"seen by attach in {ns}")
        finally:
            attach.kill()


@pytest.mark.parametrize("ns", NAMESPACES)
def test_port_forward_carries_bytes_both_ways(lab: Lab, ns: str) -> None:
    check_port_forward(lab.kc[VC], ns, "pod/web", 8080)


def test_rbac_inside_decides_who_may_exec_and_read_logs(lab: Lab, tmp_path: Path) -> None:
    lab.v("-n", "demo", "create", "serviceaccount", "viewer")
    lab.v("-n", "demo", "create", "role", "pod-reader", "--verb=get", "--resource=pods")
    lab.v(
        "-n",
        "demo",
        "create",
        "rolebinding",
        "viewer",
        "--role=pod-reader",
        "--serviceaccount=demo:viewer",
    )
    token = lab.v("-n", "demo", "create", "token", "viewer").stdout.strip()
    config = yaml.safe_load(lab.kc[VC].read_text())
    config["users"][0]["user"] = {"token": token}
    viewer = tmp_path / "viewer.kubeconfig"
    viewer.write_text(yaml.safe_dump(config))
    assert kubectl(viewer, "-n", "demo", "get", "pod", "web").returncode == 0
    for args in (("exec", "web", "-c", "a", "--", "true"), ("logs", "web", "-c", "a")):
        refused = kubectl(viewer, "-n", "demo", *args, check=False)
        assert refused.returncode != 0
        assert "forbidden" in refused.stderr.lower(), refused.stderr


def test_another_vcluster_never_reaches_these_pods(lab: Lab) -> None:
    lab.print("demo", "web", "a", "secret of vc1")
    host_name = names.host_name("web", "demo", VC)
    # The neighbour names vc1's host pod as the kubelet would see it, in the host namespace.
    lab.v("create", "namespace", NS, vc=OTHER)
    apply(
        lab,
        f"""apiVersion: v1
kind: Pod
metadata: {{name: {host_name}, namespace: {NS}}}
spec: {{containers: [{{name: a, image: busybox}}]}}
""",
        vc=OTHER,
    )
    wait_for("the neighbour's pod", lambda: phase(lab, host_name, NS, OTHER) == "Running")
    own = lab.v("-n", NS, "logs", host_name, "-c", "a", vc=OTHER).stdout
    assert "secret of vc1" not in own
    # It points a node at vc1's kubelet endpoint for the node of vc1's pod (the host
    # scheduler may have put the two pods on different nodes, and vc1 shows only the nodes
    # its pods run on). A node the syncer made is put back at once; a Node of its own
    # stays, but its API server trusts only its own endpoint.
    node = lab.v(
        "-n", NS, "get", "pod", host_name, "-o", "jsonpath={.spec.nodeName}", vc=OTHER
    ).stdout
    vc1_pod_node = lab.v("-n", "demo", "get", "pod", "web", "-o", "jsonpath={.spec.nodeName}")
    vc1_node = lab.v_json("get", "node", vc1_pod_node.stdout)
    endpoint = {
        "addresses": vc1_node["status"]["addresses"],
        "daemonEndpoints": vc1_node["status"]["daemonEndpoints"],
    }
    status = json.dumps({"status": endpoint})
    lab.v("patch", "node", node, "--subresource=status", "--type=merge", "-p", status, vc=OTHER)
    lab.v(
        "create",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "rogue"}}),
        vc=OTHER,
    )
    lab.v("patch", "node", "rogue", "--subresource=status", "--type=merge", "-p", status, vc=OTHER)
    lab.v("create", "namespace", "demo", vc=OTHER)
    apply(
        lab,
        """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo}
spec: {nodeName: rogue, containers: [{name: a, image: busybox}]}
""",
        vc=OTHER,
    )
    for pod, namespace in ((host_name, NS), ("web", "demo")):
        tried = lab.v("-n", namespace, "logs", pod, "-c", "a", vc=OTHER, check=False)
        assert "secret of vc1" not in tried.stdout + tried.stderr
    refused = lab.v("-n", "demo", "logs", "web", "-c", "a", vc=OTHER, check=False)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr, refused.stderr


def test_the_kubelet_endpoint_answers_only_the_api_servers_certificate(
    lab: Lab, tmp_path: Path
) -> None:
    """The admin's certificate comes from the same CA, and still it is refused: only the
    virtual API server calls the kubelet, after its own RBAC said yes."""
    node = lab.v_json(
        "get",
        "node",
        lab.v("-n", "demo", "get", "pod", "web", "-o", "jsonpath={.spec.nodeName}").stdout,
    )
    address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    pki = PKI(lab.state / "vclusters" / NS / VC / "data" / "controlplane" / "pki")
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.check_hostname = False
    admin = pki.client(ADMIN)
    context.load_cert_chain(str(admin.cert), str(admin.key))
    url = f"https://{address}:{port}/containerLogs/demo/web/a"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, context=context, timeout=30)
    assert refused.value.code == 403
    assert b"only the virtual API server" in refused.value.read()


def test_node_stats_show_only_the_tenants_pods(lab: Lab) -> None:
    node = lab.v("-n", "demo", "get", "pod", "web", "-o", "jsonpath={.spec.nodeName}").stdout
    summary = json.loads(lab.v("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary").stdout)
    refs = {(p["podRef"]["namespace"], p["podRef"]["name"]) for p in summary["pods"]}
    mine = {
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in lab.v_json("get", "pods", "-A")["items"]
        if p["spec"].get("nodeName") == node
    }
    assert refs == mine
    assert all("-x-" not in name for _, name in refs)
    assert summary["node"]["nodeName"] == node
    for path in ("configz", "pods", "metrics/cadvisor", "run/demo/web/a"):
        refused = lab.v("get", "--raw", f"/api/v1/nodes/{node}/proxy/{path}", check=False)
        assert refused.returncode != 0, path


# The Service of test_a_service_is_born_with_the_host_cluster_ip: its uid, and when it was made.
BORN: dict[str, float] = {}


def test_a_service_is_born_with_the_host_cluster_ip(lab: Lab) -> None:
    created = json.loads(
        lab.v(
            "-n", "demo", "create", "service", "clusterip", "born", "--tcp=80:80", "-o", "json"
        ).stdout
    )
    hsvc = lab.host_json("-n", NS, "get", "svc", names.host_name("born", "demo", VC))
    assert created["spec"]["clusterIP"] == hsvc["spec"]["clusterIP"]
    uid = created["metadata"]["uid"]
    wait_for(
        "the host copy recording the virtual Service",
        lambda: (
            lab.host_json("-n", NS, "get", "svc", names.host_name("born", "demo", VC))["metadata"][
                "annotations"
            ][names.ANNOTATION_UID]
            == uid
        ),
    )
    # A change makes the syncer look again; the Service stays the one the tenant created.
    lab.v("-n", "demo", "label", "service", "born", "touched=yes")
    wait_for(
        "the label on the host",
        lambda: (
            lab.host_json("-n", NS, "get", "svc", names.host_name("born", "demo", VC))["metadata"][
                "labels"
            ].get("touched")
            == "yes"
        ),
    )
    BORN[uid] = time.monotonic()


def nodes_inside(lab: Lab, vc: str = VC) -> set[str]:
    return {n["metadata"]["name"] for n in lab.v_json("get", "nodes", vc=vc)["items"]}


def daemonset(lab: Lab, name: str) -> dict[str, Any]:
    return lab.v_json("-n", "default", "get", "daemonset", name)


def test_daemonsets_cover_the_nodes_inside_and_roll_out(lab: Lab) -> None:
    # A host node of its own, tainted: the fixture's pods and the CronJob's finished pods
    # (which keep their node inside) never land there, so only this test's pod holds it.
    node = kwok.node_manifest(SPARE)
    node["spec"]["taints"] = [{"key": "spare", "value": "yes", "effect": "NoSchedule"}]
    lab.host("create", "-f", "-", stdin=json.dumps(node))
    apply(
        lab,
        f"""apiVersion: v1
kind: Pod
metadata: {{name: on-spare, namespace: default}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {SPARE}}}
  tolerations: [{{key: spare, operator: Exists}}]
  containers: [{{name: c, image: busybox}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: default}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      tolerations: [{{operator: Exists}}]
      containers: [{{name: agent, image: "agent:1"}}]
""",
    )
    wait_for(f"{SPARE} inside", lambda: SPARE in nodes_inside(lab))
    for name in nodes_inside(lab):
        vnode = lab.v_json("get", "node", name)
        assert not vnode["spec"].get("taints"), f"{name} carries {vnode['spec'].get('taints')}"

    def covered() -> bool:
        status = daemonset(lab, "agent")["status"]
        return (
            status.get("desiredNumberScheduled")
            == len(nodes_inside(lab))
            == status.get("numberReady")
        )

    wait_for("a ready agent pod on every node inside", covered)
    lab.v("-n", "default", "set", "image", "daemonset/agent", "agent=agent:2")
    lab.v("-n", "default", "rollout", "status", "daemonset/agent", "--timeout=120s", timeout=150)
    images = {
        p["spec"]["containers"][0]["image"]
        for p in lab.host_json(
            "-n", NS, "get", "pods", "-l", f"{names.LABEL_MANAGED_BY}={VC},app=agent"
        )["items"]
        if not p["metadata"].get("deletionTimestamp")
    }
    assert images == {"agent:2"}
    # Left with only the agent, the spare node goes, and its agent pod with it.
    lab.v("-n", "default", "delete", "pod", "on-spare", "--wait=false")
    wait_for(f"{SPARE} gone inside", lambda: SPARE not in nodes_inside(lab))
    wait_for("one agent per remaining node", covered)
    wait_for(
        f"no agent pod left on {SPARE}",
        lambda: (
            not [
                p
                for p in lab.v_json("-n", "default", "get", "pods", "-l", "app=agent")["items"]
                if p["spec"].get("nodeName") == SPARE
            ]
        ),
    )
    lab.v("-n", "default", "delete", "daemonset", "agent")
    lab.host("delete", "node", SPARE)


def test_a_node_label_set_inside_steers_a_daemonset(lab: Lab) -> None:
    apply(
        lab,
        """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: blue, namespace: default}
spec:
  selector: {matchLabels: {app: blue}}
  template:
    metadata: {labels: {app: blue}}
    spec:
      nodeSelector: {team: blue}
      containers: [{name: c, image: busybox}]
""",
    )
    node = sorted(nodes_inside(lab))[0]
    assert daemonset(lab, "blue")["status"].get("desiredNumberScheduled", 0) == 0
    lab.v("label", "node", node, "team=blue")
    wait_for(
        "the blue pod Running on the labelled node",
        lambda: (
            [
                p["spec"].get("nodeName")
                for p in lab.v_json("-n", "default", "get", "pods", "-l", "app=blue")["items"]
                if p["status"].get("phase") == "Running"
            ]
            == [node]
        ),
    )
    time.sleep(3)
    assert lab.v_json("get", "node", node)["metadata"]["labels"].get("team") == "blue", (
        "the tenant's label stays"
    )
    assert "team" not in lab.host_json("get", "node", node)["metadata"]["labels"]
    lab.v("label", "node", node, "team-")
    wait_for(
        "the blue pod gone",
        lambda: not lab.v_json("-n", "default", "get", "pods", "-l", "app=blue")["items"],
    )
    lab.v("-n", "default", "delete", "daemonset", "blue")


def test_the_scheduler_name_is_kept_for_a_host_scheduler(lab: Lab, tmp_path: Path) -> None:
    apply(
        lab,
        """apiVersion: v1
kind: Pod
metadata: {name: custom, namespace: default}
spec:
  schedulerName: my-scheduler
  containers: [{name: c, image: busybox}]
""",
    )
    host_name = names.host_name("custom", "default", VC)
    wait_for(
        "the host pod",
        lambda: lab.host("-n", NS, "get", "pod", host_name, check=False).returncode == 0,
    )
    host_pod = lab.host_json("-n", NS, "get", "pod", host_name)
    assert host_pod["spec"]["schedulerName"] == "my-scheduler"
    assert not host_pod["spec"].get("nodeName"), "the host's default scheduler leaves it alone"
    with scheduler_named("my-scheduler", lab.host_kc, tmp_path):
        wait_for("the pod Running inside", lambda: phase(lab, "custom") == "Running")


def test_jobs_complete_inside(lab: Lab) -> None:
    lab.v("create", "job", "echo", "--image=busybox", "--", "echo", "hi")
    lab.v("apply", "-f", str(jobs.MANIFEST))
    lab.v("create", "job", "from-cron", "--from=cronjob/tick")
    jobs.check(lab.kc[VC])
    for job in ("echo", "from-cron"):
        lab.v("wait", "--for=condition=complete", f"job/{job}", "--timeout=120s", timeout=150)
    for pod in jobs.pods(lab.kc[VC], "indexed"):
        host_pod = lab.host_json(
            "-n", NS, "get", "pod", names.host_name(pod["metadata"]["name"], "default", VC)
        )
        assert host_pod["spec"]["hostname"] == pod["spec"]["hostname"]
    # The logs of a finished pod are still there: its node stays while it does.
    assert "container echo started" in lab.v("logs", "job/echo").stdout
    wait_for(
        "a scheduled run of the CronJob completed",
        lambda: lab.v_json("get", "cronjob", "tick")["status"].get("lastSuccessfulTime"),
        timeout=150,
    )


def test_a_claim_shows_its_volume_and_class(lab: Lab) -> None:
    apply(
        lab,
        """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: demo}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: user, namespace: demo}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: d, mountPath: /data}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
""",
    )

    def bound() -> dict[str, Any] | None:
        claim = lab.v_json("-n", "demo", "get", "pvc", "data")
        return (
            claim
            if claim["spec"].get("volumeName") and claim["status"].get("phase") == "Bound"
            else None
        )

    claim = wait_for("the claim bound inside with its volume", bound)
    assert claim["spec"]["storageClassName"] == "standard"
    volume = lab.v_json("get", "pv", claim["spec"]["volumeName"])
    host_claim = lab.host_json("-n", NS, "get", "pvc", names.host_name("data", "demo", VC))
    assert volume["metadata"]["name"] == host_claim["spec"]["volumeName"]
    assert volume["spec"]["capacity"] == host_claim["status"]["capacity"]
    assert volume["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert volume["spec"]["storageClassName"] == "standard"
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    lab.v("-n", "demo", "delete", "pod", "user", "--grace-period=0", "--force")
    lab.v("-n", "demo", "delete", "pvc", "data", timeout=120)
    wait_for(
        "the volume gone inside",
        lambda: lab.v("get", "pv", volume["metadata"]["name"], check=False).returncode != 0,
    )


def test_a_fresh_vcluster_shows_a_ready_untainted_node(lab: Lab) -> None:
    res = lab.cli("create", "fresh", "-n", NS, "--no-connect")
    assert res.returncode == 0, res.stderr
    lab.kc["fresh"] = Path(lab.cli("kubeconfig", "fresh", "-n", NS).stdout.strip())

    def ready_untainted() -> list[str]:
        return [
            n["metadata"]["name"]
            for n in lab.v_json("get", "nodes", vc="fresh")["items"]
            if not n["spec"].get("taints")
            and any(
                c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]
            )
        ]

    wait_for("a Ready node without taints", ready_untainted)
    lab.cli("delete", "fresh", "-n", NS)


def test_the_service_keeps_its_uid_a_minute_later(lab: Lab) -> None:
    """Last in the module, so the minute mostly passes while the other tests run."""
    assert BORN, "test_a_service_is_born_with_the_host_cluster_ip ran first"
    (uid, made), *_ = BORN.items()
    time.sleep(max(0.0, made + 60 - time.monotonic()))
    assert lab.v_json("-n", "demo", "get", "svc", "born")["metadata"]["uid"] == uid
    hsvc = lab.host_json("-n", NS, "get", "svc", names.host_name("born", "demo", VC))
    assert hsvc["metadata"]["annotations"][names.ANNOTATION_UID] == uid
