"""The product surface on a real local host: several vclusters, list, connect, pause,
resume, describe, delete, a vcluster inside a vcluster, and bad input."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from subkube.controlplane import etcd
from subkube.controlplane.ports import free_port, port_in_use
from tests.conftest import (
    kubectl,
    namespace_snapshot,
    require_binary,
    scheduler_named,
    subkube,
    wait_for,
)

pytestmark = pytest.mark.e2e

SHARED = "shared"
ALONE = "alone"


class Lab:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.user_kc = root / "user-kubeconfig"
        self.host_kc = Path()

    def env(self, **extra: str) -> dict[str, str]:
        return {"SUBKUBE_STATE_DIR": str(self.state), "KUBECONFIG": str(self.user_kc), **extra}

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subkube(*args, env=self.env(**extra))

    def ok(self, *args: str) -> str:
        res = self.cli(*args)
        assert res.returncode == 0, f"subkube {' '.join(args)}: {res.stdout}{res.stderr}"
        return res.stdout

    def host(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.host_kc, *args, check=check)

    def vkc(self, name: str, namespace: str) -> Path:
        return Path(self.ok("kubeconfig", name, "-n", namespace).strip())

    def pods_of(self, vcluster: str, namespace: str) -> list[dict[str, Any]]:
        out = self.host(
            "-n", namespace, "get", "pods", "-l", f"subkube.io/managed-by={vcluster}", "-o", "json"
        ).stdout
        return json.loads(out)["items"]

    def snapshot(self, namespace: str) -> set[tuple[str, str]]:
        return namespace_snapshot(self.host_kc, namespace)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("lab"))
    up = subkube("host", "up", "--name", "lab", "--nodes", "2", env=lab.env())
    assert up.returncode == 0, up.stderr
    lab.host_kc = Path(subkube("host", "kubeconfig", "--name", "lab", env=lab.env()).stdout.strip())
    lab.user_kc.write_text(lab.host_kc.read_text())
    try:
        yield lab
    finally:
        listed = lab.cli("list", "-o", "json")
        for row in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            lab.cli("delete", row["name"], "-n", row["namespace"])
        subkube("host", "down", "--name", "lab", "--purge", env=lab.env())


@pytest.fixture(scope="module")
def three(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    lab.host("create", "namespace", SHARED)
    # The host's own controllers fill a new namespace; the "before" picture includes that.
    wait_for(
        "the namespace's default ServiceAccount and root CA",
        lambda: (
            lab.host(
                "-n", SHARED, "get", "sa/default", "cm/kube-root-ca.crt", check=False
            ).returncode
            == 0
        ),
    )
    lab.before = lab.snapshot(SHARED)  # type: ignore[attr-defined]
    values = tmp_path_factory.mktemp("values") / "all-configmaps.yaml"
    values.write_text("sync:\n  toHost:\n    configMaps: {all: true}\n")
    lab.ok("create", "vc-a", "-n", SHARED, "--no-connect")
    host_context = yaml.safe_load(lab.user_kc.read_text())["current-context"]
    out = lab.ok("create", "vc-b", "-n", SHARED, "-f", str(values))
    connected = yaml.safe_load(lab.user_kc.read_text())["current-context"]
    assert connected.startswith("subkube_vc-b_shared_"), "create connects by default"
    assert connected in out
    lab.ok("disconnect")
    assert yaml.safe_load(lab.user_kc.read_text())["current-context"] == host_context
    lab.ok("create", "vc-c", "-n", ALONE, "--no-connect")
    for name, ns in (("vc-a", SHARED), ("vc-b", SHARED), ("vc-c", ALONE)):
        kc = lab.vkc(name, ns)
        kubectl(kc, "create", "deployment", "app", "--image=nginx", "--replicas=2")
        kubectl(kc, "create", "configmap", "loose", "--from-literal=k=v")
    for name, ns in (("vc-a", SHARED), ("vc-b", SHARED), ("vc-c", ALONE)):
        wait_for(f"{name}'s pods", lambda n=name, s=ns: len(lab.pods_of(n, s)) == 3)
    return lab


def test_list_shows_every_vcluster(three: Lab) -> None:
    rows = {r["name"]: r for r in json.loads(three.ok("list", "-o", "json"))}
    assert {n: (r["namespace"], r["status"]) for n, r in rows.items()} == {
        "vc-a": (SHARED, "Running"),
        "vc-b": (SHARED, "Running"),
        "vc-c": (ALONE, "Running"),
    }
    table = three.ok("list")
    assert "NAMESPACE" in table
    assert "vc-a" in table


def test_config_files_apply_per_vcluster(three: Lab) -> None:
    assert (
        three.host("-n", SHARED, "get", "cm", "loose-x-default-x-vc-b", check=False).returncode == 0
    )
    assert (
        three.host("-n", SHARED, "get", "cm", "loose-x-default-x-vc-a", check=False).returncode != 0
    )
    described = json.loads(three.ok("describe", "vc-b", "-n", SHARED, "-o", "json"))[0]
    assert described["config"]["sync"]["toHost"]["configMaps"]["all"] is True
    assert described["synced"]["pods"] == 3
    assert {
        "kind": "ConfigMap",
        "virtual": "default/loose",
        "host": "loose-x-default-x-vc-b",
    } in described["mapping"]


def test_connect_and_disconnect(three: Lab) -> None:
    before = yaml.safe_load(three.user_kc.read_text())["current-context"]
    out = three.ok("connect", "vc-a", "-n", SHARED)
    context = yaml.safe_load(three.user_kc.read_text())["current-context"]
    assert context.startswith("subkube_vc-a_shared_")
    assert context in out
    namespaces = subprocess.run(
        [str(require_binary("kubectl")), "get", "ns", "-o", "name"],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(three.user_kc)},
        check=True,
    ).stdout
    assert "namespace/shared" not in namespaces
    rows = {r["name"]: r for r in json.loads(three.ok("list", "-o", "json"))}
    assert rows["vc-a"]["connected"] is True
    assert rows["vc-b"]["connected"] is False
    # The host stays the host while the user's kubeconfig points at a vcluster.
    described = json.loads(three.ok("describe", "vc-b", "-n", SHARED, "-o", "json"))[0]
    assert described["synced"]["pods"] == 3
    three.ok("disconnect")
    assert yaml.safe_load(three.user_kc.read_text())["current-context"] == before
    out_file = three.user_kc.parent / "vc-a.kubeconfig"
    three.ok("connect", "vc-a", "-n", SHARED, "--kubeconfig-out", str(out_file))
    assert kubectl(out_file, "get", "ns", "default").returncode == 0
    printed = yaml.safe_load(three.ok("connect", "vc-a", "-n", SHARED, "--print"))
    assert printed["current-context"].startswith("subkube_vc-a_")
    ran = three.cli(
        "connect",
        "vc-a",
        "-n",
        SHARED,
        "--",
        "sh",
        "-c",
        'test -n "$KUBECONFIG" && grep -q subkube_vc-a "$KUBECONFIG"',
    )
    assert ran.returncode == 0, ran.stderr


def test_pause_and_resume(three: Lab) -> None:
    server = {r["name"]: r for r in json.loads(three.ok("list", "-o", "json"))}["vc-a"]["server"]
    out = three.ok("pause", "vc-a", "-n", SHARED)
    assert "paused" in out
    assert three.pods_of("vc-a", SHARED) == []
    assert len(three.pods_of("vc-b", SHARED)) == 3, "the neighbour is untouched"
    rows = {r["name"]: r for r in json.loads(three.ok("list", "-o", "json"))}
    assert rows["vc-a"]["status"] == "Paused"
    three.ok("resume", "vc-a", "-n", SHARED)
    rows = {r["name"]: r for r in json.loads(three.ok("list", "-o", "json"))}
    assert rows["vc-a"]["server"] == server, "connected kubeconfigs keep working"
    wait_for("vc-a's pods to return", lambda: len(three.pods_of("vc-a", SHARED)) == 3)
    kc = three.vkc("vc-a", SHARED)
    assert kubectl(kc, "get", "configmap", "loose").returncode == 0, "data survived the pause"


def test_create_again_needs_upgrade_which_applies_new_config(three: Lab) -> None:
    again = three.cli("create", "vc-a", "-n", SHARED, "--no-connect")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    three.ok(
        "create",
        "vc-a",
        "-n",
        SHARED,
        "--no-connect",
        "--upgrade",
        "--set",
        "sync.toHost.configMaps.all=true",
    )
    wait_for(
        "vc-a's unreferenced ConfigMap after the upgrade",
        lambda: (
            three.host("-n", SHARED, "get", "cm", "loose-x-default-x-vc-a", check=False).returncode
            == 0
        ),
    )
    assert len(three.pods_of("vc-a", SHARED)) == 3


def test_a_vcluster_inside_a_vcluster(three: Lab) -> None:
    outer = three.vkc("vc-c", ALONE)
    res = three.cli("create", "inner", "-n", "nest", "--kubeconfig", str(outer), "--no-connect")
    assert res.returncode == 0, res.stdout + res.stderr
    inner = three.vkc("inner", "nest")
    kubectl(inner, "create", "deployment", "deep", "--image=nginx", "--replicas=2")

    def running_inside() -> bool:
        pods = json.loads(kubectl(inner, "get", "pods", "-l", "app=deep", "-o", "json").stdout)[
            "items"
        ]
        return len([p for p in pods if p["status"].get("phase") == "Running"]) == 2

    wait_for("pods of the inner vcluster to run (host -> vc-c -> inner)", running_inside, 180)
    # On the real host, inner's pods are vc-c's copies of vc-c's copies.
    origins = [p["metadata"]["annotations"] for p in three.pods_of("vc-c", ALONE)]
    deep = [
        a
        for a in origins
        if a["subkube.io/object-namespace"] == "nest"
        and a["subkube.io/object-name"].startswith("deep-")
    ]
    assert len(deep) == 2, origins
    three.ok("delete", "inner", "-n", "nest")


def test_deleting_leaves_the_neighbours_and_the_namespace_as_before(three: Lab) -> None:
    three.ok("delete", "vc-a", "-n", SHARED)
    assert three.pods_of("vc-a", SHARED) == []
    assert len(three.pods_of("vc-b", SHARED)) == 3
    assert len(three.pods_of("vc-c", ALONE)) >= 3
    three.ok("delete", "vc-b", "-n", SHARED, "--delete-namespace")
    assert three.host("get", "namespace", SHARED, check=False).returncode == 0, (
        "subkube did not create it, so it stays"
    )
    assert three.snapshot(SHARED) == three.before  # type: ignore[attr-defined]
    out = three.ok("delete", "vc-c", "-n", ALONE, "--delete-namespace")
    assert "namespace deleted" in out


def test_policies_apply_on_the_host_and_inside(lab: Lab) -> None:
    lab.ok(
        "create",
        "vc-p",
        "-n",
        "policed",
        "--no-connect",
        "--set",
        "policies.podSecurityStandard=restricted",
        "--set",
        "policies.resourceQuota.enabled=true",
        "--set",
        "policies.limitRange.enabled=true",
        "--set",
        "policies.networkPolicy.enabled=true",
    )
    owner_uid = lab.host(
        "-n", "policed", "get", "svc", "vc-p", "-o", "jsonpath={.metadata.uid}"
    ).stdout
    for kind, name in (
        ("resourcequota", "subkube-vc-p"),
        ("limitrange", "subkube-vc-p"),
        ("networkpolicy", "subkube-vc-p-workloads"),
    ):
        owners = lab.host(
            "-n", "policed", "get", kind, name, "-o", "jsonpath={.metadata.ownerReferences[0].uid}"
        ).stdout
        assert owners == owner_uid, f"{kind}/{name} is owned by the vcluster's Service"
    denied = kubectl(
        lab.vkc("vc-p", "policed"), "run", "priv", "--image=nginx", "--privileged=true", check=False
    )
    assert denied.returncode != 0
    assert "violates PodSecurity" in denied.stderr
    out = lab.ok("delete", "vc-p", "-n", "policed", "--delete-namespace")
    assert "namespace deleted" in out


@pytest.mark.parametrize(
    ("args", "extra_env", "message"),
    [
        (["create", "Bad_Name", "-n", "x"], {}, "invalid vcluster name"),
        (["delete", "nope", "-n", "x"], {}, "no vcluster nope in namespace x"),
        (["connect", "nope", "-n", "x"], {}, "no vcluster nope"),
        (["pause", "nope", "-n", "x"], {}, "no vcluster nope"),
        (["resume", "nope", "-n", "x"], {}, "no vcluster nope"),
        (["describe", "nope", "-n", "x"], {}, "no vcluster nope"),
        (["create", "vc", "-n", "x", "--driver", "cloud"], {}, "--driver cloud is not available"),
        (["create", "vc", "-n", "x"], {"KUBECONFIG": "/nonexistent/kubeconfig"}, "subkube host up"),
        (
            ["create", "vc", "-n", "x", "--set", "sync.toHost.pods.enabled=perhaps"],
            {},
            "sync.toHost.pods.enabled",
        ),
        (
            [
                "create",
                "vc",
                "-n",
                "x",
                "--set",
                "sync.toHost.priorityClasses.enabled=true",
                "--set",
                "sync.fromHost.priorityClasses.enabled=true",
            ],
            {},
            "cannot be synced in both directions",
        ),
        (["disconnect"], {}, "nothing to disconnect"),
    ],
)
def test_bad_input_gets_one_clear_line(
    lab: Lab, args: list[str], extra_env: dict[str, str], message: str
) -> None:
    res = lab.cli(*args, **extra_env)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_an_unreachable_host_is_one_clear_line(lab: Lab, tmp_path: Path) -> None:
    dead = yaml.safe_load(lab.host_kc.read_text())
    dead["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "dead"
    path.write_text(yaml.safe_dump(dead))
    res = lab.cli("create", "vc", "-n", "x", "--kubeconfig", str(path))
    assert res.returncode == 1
    assert "cannot reach the host cluster" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture
def external_etcd(tmp_path: Path) -> Iterator[str]:
    """An etcd the user runs, outside any vcluster."""
    port, peer, metrics = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        etcd.argv(require_binary("etcd"), tmp_path, "outside", port, peer, metrics),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the external etcd", lambda: port_in_use(port), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def test_an_external_etcd_keeps_the_data_across_delete_and_create(
    lab: Lab, external_etcd: str
) -> None:
    sets = [
        "--set",
        "controlPlane.backingStore.etcd.external.enabled=true",
        "--set",
        f"controlPlane.backingStore.etcd.external.endpoint={external_etcd}",
    ]
    lab.ok("create", "ext", "-n", "ext-ns", "--no-connect", *sets)
    kubectl(lab.vkc("ext", "ext-ns"), "create", "namespace", "kept")
    keys = subprocess.run(
        [
            str(require_binary("etcdctl")),
            f"--endpoints={external_etcd}",
            "get",
            "--prefix",
            "--keys-only",
            "/registry/namespaces/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "/registry/namespaces/kept" in keys
    # subkube never deletes a store it does not run: a new vcluster on it finds the data.
    lab.ok("delete", "ext", "-n", "ext-ns")
    lab.ok("create", "ext", "-n", "ext-ns", "--no-connect", *sets)
    kubectl(lab.vkc("ext", "ext-ns"), "get", "namespace", "kept")
    lab.ok("delete", "ext", "-n", "ext-ns", "--delete-namespace")


def test_an_external_database_keeps_the_data_across_delete_and_create(
    lab: Lab, tmp_path: Path
) -> None:
    database = tmp_path / "outside.db"
    sets = [
        "--set",
        "controlPlane.backingStore.database.external.enabled=true",
        "--set",
        f"controlPlane.backingStore.database.external.dataSource=sqlite://{database}",
    ]
    lab.ok("create", "extdb", "-n", "ext-ns", "--no-connect", *sets)
    kubectl(lab.vkc("extdb", "ext-ns"), "create", "namespace", "kept")
    lab.ok("delete", "extdb", "-n", "ext-ns")
    assert database.exists()
    lab.ok("create", "extdb", "-n", "ext-ns", "--no-connect", *sets)
    kubectl(lab.vkc("extdb", "ext-ns"), "get", "namespace", "kept")
    lab.ok("delete", "extdb", "-n", "ext-ns", "--delete-namespace")


def test_missing_external_etcd_certificates_are_one_clear_line(lab: Lab) -> None:
    res = lab.cli(
        "create",
        "extbad",
        "-n",
        "ext-bad",
        "--no-connect",
        "--set",
        "controlPlane.backingStore.etcd.external.enabled=true",
        "--set",
        "controlPlane.backingStore.etcd.external.endpoint=https://127.0.0.1:2379",
        "--set",
        "controlPlane.backingStore.etcd.external.caFile=/nonexistent/ca.crt",
    )
    assert res.returncode == 1
    assert "etcd.external.caFile: no file at /nonexistent/ca.crt" in res.stderr
    assert "Traceback" not in res.stderr
    lab.cli("delete", "extbad", "-n", "ext-bad", "--delete-namespace")


def test_host_classes_show_inside_and_follow_the_host(lab: Lab) -> None:
    lab.ok(
        "create",
        "cls",
        "-n",
        "cls-ns",
        "--no-connect",
        "--set",
        "sync.fromHost.storageClasses.enabled=true",
        "--set",
        "sync.fromHost.priorityClasses.enabled=true",
    )
    vkc = lab.vkc("cls", "cls-ns")
    lab.host("create", "priorityclass", "tenant-high", "--value=1000")

    def inside(kind: str) -> set[str]:
        out = kubectl(vkc, "get", kind, "-l", "subkube.io/from-host=true", "-o", "name").stdout
        return {line.split("/", 1)[1] for line in out.split()}

    # The local host's default class, default inside too: a claim without a class binds.
    wait_for("the host's StorageClass inside", lambda: "standard" in inside("storageclasses"))
    wait_for("the new PriorityClass inside", lambda: "tenant-high" in inside("priorityclasses"))
    manifest = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: urgent}
spec:
  priorityClassName: tenant-high
  containers: [{name: c, image: nginx}]
"""
    kubectl(vkc, "apply", "-f", "-", stdin=manifest)
    wait_for(
        "the claim bound by the host's provisioner",
        lambda: (
            kubectl(vkc, "get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout == "Bound"
        ),
    )
    host_pod = wait_for(
        "the pod on the host",
        lambda: (
            lab.pods_of("cls", "cls-ns")
            and [
                p
                for p in lab.pods_of("cls", "cls-ns")
                if p["metadata"]["name"].startswith("urgent-")
            ]
        ),
    )[0]
    assert host_pod["spec"]["priorityClassName"] == "tenant-high"
    assert host_pod["spec"]["priority"] == 1000
    # A tenant edit to a copy is put back; a class gone from the host goes inside.
    kubectl(vkc, "label", "priorityclass", "tenant-high", "edited=yes")
    wait_for(
        "the edit undone",
        lambda: (
            "edited"
            not in kubectl(
                vkc, "get", "priorityclass", "tenant-high", "-o", "jsonpath={.metadata.labels}"
            ).stdout
        ),
    )
    kubectl(vkc, "delete", "pod", "urgent", "--wait=false")
    lab.host("delete", "priorityclass", "tenant-high")
    wait_for(
        "the PriorityClass gone inside", lambda: "tenant-high" not in inside("priorityclasses")
    )
    # Classes a tenant makes are its own: kept, and never sent to the host.
    kubectl(vkc, "create", "priorityclass", "mine", "--value=5")
    lab.ok("delete", "cls", "-n", "cls-ns", "--delete-namespace")
    assert lab.host("get", "priorityclass", "mine", check=False).returncode != 0


def test_real_host_nodes_inside_with_changes_synced_back(lab: Lab) -> None:
    lab.host("label", "node", "kwok-node-1", "pool=tenant")
    try:
        lab.ok(
            "create",
            "nodes",
            "-n",
            "nodes-ns",
            "--no-connect",
            "--set",
            "sync.fromHost.nodes.enabled=true",
            "--set",
            "sync.fromHost.nodes.selector.labels.pool=tenant",
            "--set",
            "sync.fromHost.nodes.syncBackChanges=true",
        )
        vkc = lab.vkc("nodes", "nodes-ns")

        def nodes_inside() -> list[dict[str, Any]]:
            return json.loads(kubectl(vkc, "get", "nodes", "-o", "json").stdout)["items"]

        # Only nodes running tenant pods (CoreDNS), and only the selected pool: its pods
        # are pinned there.
        node = wait_for("the selected host node inside", nodes_inside)
        assert [n["metadata"]["name"] for n in node] == ["kwok-node-1"]
        copy = node[0]
        assert copy["metadata"]["labels"]["type"] == "kwok"
        assert copy["status"]["nodeInfo"]["containerRuntimeVersion"] == "kwok"
        assert any(
            c["type"] == "Ready" and c["status"] == "True" for c in copy["status"]["conditions"]
        )
        for pod in lab.pods_of("nodes", "nodes-ns"):
            assert pod["spec"]["nodeSelector"]["pool"] == "tenant"
            assert pod["spec"].get("nodeName") == "kwok-node-1"
        # A label set inside reaches the host node; one set on the host shows inside.
        kubectl(vkc, "label", "node", "kwok-node-1", "team=a")
        wait_for(
            "the label on the host node",
            lambda: (
                lab.host(
                    "get", "node", "kwok-node-1", "-o", "jsonpath={.metadata.labels.team}"
                ).stdout
                == "a"
            ),
        )
        lab.host("label", "node", "kwok-node-1", "zone=z1")
        wait_for(
            "the host's label inside",
            lambda: (
                kubectl(
                    vkc, "get", "node", "kwok-node-1", "-o", "jsonpath={.metadata.labels.zone}"
                ).stdout
                == "z1"
            ),
        )
        assert (
            lab.host("get", "node", "kwok-node-1", "-o", "jsonpath={.metadata.labels.team}").stdout
            == "a"
        ), "the host's change did not undo the tenant's"
        lab.ok("delete", "nodes", "-n", "nodes-ns", "--delete-namespace")
    finally:
        lab.host("label", "node", "kwok-node-1", "pool-", "team-", "zone-", check=False)


def test_all_host_nodes_inside_and_tenant_edits_stay_inside(lab: Lab) -> None:
    lab.ok(
        "create",
        "allnodes",
        "-n",
        "allnodes-ns",
        "--no-connect",
        "--set",
        "sync.nodes.syncAllNodes=true",
        "--set",
        "sync.nodes.enabled=true",
    )
    vkc = lab.vkc("allnodes", "allnodes-ns")

    def labels_inside() -> dict[str, str]:
        out = kubectl(vkc, "get", "node", "kwok-node-0", "-o", "jsonpath={.metadata.labels}")
        return json.loads(out.stdout or "{}")

    wait_for(
        "every host node inside",
        lambda: (
            kubectl(vkc, "get", "nodes", "-o", "name").stdout.split()
            == ["node/kwok-node-0", "node/kwok-node-1"]
        ),
    )
    kubectl(vkc, "label", "node", "kwok-node-0", "edited=yes", "kubernetes.io/os-")
    try:
        # A change on the host still shows inside, and the tenant's edits stay on top of it.
        lab.host("label", "node", "kwok-node-0", "zone=z2")
        wait_for("the host's label inside", lambda: labels_inside().get("zone") == "z2")
        labels = labels_inside()
        assert labels["edited"] == "yes"
        assert "kubernetes.io/os" not in labels
        host_labels = json.loads(
            lab.host("get", "node", "kwok-node-0", "-o", "jsonpath={.metadata.labels}").stdout
        )
        assert "edited" not in host_labels, "without syncBackChanges, edits stay inside"
        assert host_labels["kubernetes.io/os"] == "linux"
    finally:
        lab.host("label", "node", "kwok-node-0", "zone-", check=False)
    lab.ok("delete", "allnodes", "-n", "allnodes-ns", "--delete-namespace")


def test_a_scheduler_inside_places_pods_and_the_host_binds_them(lab: Lab, tmp_path: Path) -> None:
    refused = lab.cli(
        "create",
        "bad",
        "-n",
        "bad-ns",
        "--set",
        "controlPlane.advanced.virtualScheduler.enabled=true",
    )
    assert refused.returncode != 0
    assert "enable sync.fromHost.nodes" in refused.stderr
    assert "Traceback" not in refused.stderr
    lab.ok(
        "create",
        "sched",
        "-n",
        "sched-ns",
        "--no-connect",
        "--set",
        "sync.fromHost.nodes.enabled=true",
        "--set",
        "controlPlane.advanced.virtualScheduler.enabled=true",
    )
    vkc = lab.vkc("sched", "sched-ns")
    # The tenant runs a scheduler of its own inside, under its own name.
    with scheduler_named("tenant-scheduler", vkc, tmp_path):
        kubectl(vkc, "run", "by-default", "--image=nginx")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "by-tenant", "namespace": "default"},
            "spec": {
                "schedulerName": "tenant-scheduler",
                "containers": [{"name": "c", "image": "nginx"}],
            },
        }
        kubectl(vkc, "apply", "-f", "-", stdin=json.dumps(pod))
        for name, scheduler in (
            ("by-default", "default-scheduler"),
            ("by-tenant", "tenant-scheduler"),
        ):
            wait_for(
                f"{name} Running",
                lambda n=name: (
                    kubectl(vkc, "get", "pod", n, "-o", "jsonpath={.status.phase}").stdout
                    == "Running"
                ),
            )
            events = json.loads(
                kubectl(
                    vkc,
                    "get",
                    "events",
                    "--field-selector",
                    f"involvedObject.name={name},reason=Scheduled",
                    "-o",
                    "json",
                ).stdout
            )["items"]
            assert {
                e.get("reportingComponent") or e["source"].get("component") for e in events
            } == {scheduler}, f"{name} was placed inside by {scheduler}"
            node = kubectl(vkc, "get", "pod", name, "-o", "jsonpath={.spec.nodeName}").stdout
            host_pod = json.loads(
                lab.host(
                    "-n", "sched-ns", "get", "pod", f"{name}-x-default-x-sched", "-o", "json"
                ).stdout
            )
            assert host_pod["spec"]["nodeName"] == node, "the host binds to the chosen node"
    lab.ok("delete", "sched", "-n", "sched-ns", "--delete-namespace")


def test_network_policies_reach_the_host_scoped_to_the_tenant(lab: Lab) -> None:
    res = lab.cli(
        "create", "np", "-n", "np-ns", "--no-connect", "--set", "sync.networkpolicies.enabled=true"
    )
    assert res.returncode == 0, res.stderr
    assert "sync.toHost.networkPolicies" in res.stderr, "the legacy key warns with the new one"
    vkc = lab.vkc("np", "np-ns")
    kubectl(vkc, "create", "namespace", "web")
    kubectl(vkc, "create", "namespace", "api")
    kubectl(vkc, "label", "namespace", "api", "team=a")
    manifest = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: web}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
"""
    kubectl(vkc, "apply", "-f", "-", stdin=manifest)

    def host_policy() -> dict[str, Any] | None:
        res = lab.host(
            "-n", "np-ns", "get", "networkpolicy", "db-x-web-x-np", "-o", "json", check=False
        )
        return json.loads(res.stdout) if res.returncode == 0 else None

    policy = wait_for("the policy on the host", host_policy)
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app": "db",
        "subkube.io/managed-by": "np",
        "subkube.io/namespace": "web",
    }
    peer = policy["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert peer["matchLabels"] == {"subkube.io/managed-by": "np", "subkube.io/namespace": "api"}
    # Labelling another namespace inside widens the host policy to it.
    kubectl(vkc, "label", "namespace", "web", "team=a")
    wait_for(
        "the policy to cover both namespaces",
        lambda: (
            (p := host_policy())
            and p["spec"]["ingress"][0]["from"][0]["podSelector"].get("matchExpressions")
            == [{"key": "subkube.io/namespace", "operator": "In", "values": ["api", "web"]}]
        ),
    )
    kubectl(vkc, "-n", "web", "delete", "networkpolicy", "db")
    wait_for("the host policy gone", lambda: host_policy() is None)
    lab.ok("delete", "np", "-n", "np-ns", "--delete-namespace")
