"""`subkube snapshot create` and `subkube restore` as a user runs them, on a local host:
a vcluster's namespaces, Deployment, CRD and its objects and Secrets, snapshotted to a file
and to S3 (a real versitygw), restored into new vclusters in other namespaces and into the
same one; checked inside with kubectl and on the host."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kubectl, subkube, wait_for
from tests.e2e.lab import WEB_IN_SHOP, HostLab
from tests.e2e.s3server import S3Server, versitygw

pytestmark = pytest.mark.e2e

CRD = Path(__file__).parent / "manifests" / "widgets-crd.yaml"

HOST = "snapshots"
SOURCE, SOURCE_NS = "src", "team-a"
APP = (
    WEB_IN_SHOP
    + """---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: warehouse}
spec: {size: 3}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: warehouse}
stringData: {token: abc}
"""
)
NO_AWS_FILES = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Lab(HostLab):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.snapshots = root / "archives"
        self.vkc: dict[tuple[str, str], Path] = {}

    def ok(self, *args: str, **env: str) -> str:
        res = subkube(*args, env={**self.env, **NO_AWS_FILES, **env})
        assert res.returncode == 0, f"subkube {' '.join(args)}: {res.stdout}{res.stderr}"
        return res.stdout

    def fails(self, *args: str, **env: str) -> str:
        res = subkube(*args, env={**self.env, **NO_AWS_FILES, **env})
        assert res.returncode == 1, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, f"one line, not: {res.stderr}"
        return lines[0]

    def v(
        self, name: str, namespace: str, *args: str, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        if (name, namespace) not in self.vkc:
            self.vkc[name, namespace] = Path(self.ok("kubeconfig", name, "-n", namespace).strip())
        return kubectl(self.vkc[name, namespace], *args, **kw)

    def v_json(self, name: str, namespace: str, *args: str) -> Any:
        return json.loads(self.v(name, namespace, *args, "-o", "json").stdout)

    def host_pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        by = ["-l", selector] if selector else []
        return self.host_json("-n", namespace, "get", "pods", *by)["items"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("snapshots")
    lab = Lab(root)
    with lab.running(HOST, nodes=2):
        yield lab


def running_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def inside(lab: Lab, name: str, namespace: str) -> dict[str, Any]:
    """What the tests compare between the source and the restored vclusters."""
    namespaces = {
        n["metadata"]["name"] for n in lab.v_json(name, namespace, "get", "namespaces")["items"]
    }
    deploy = lab.v_json(name, namespace, "-n", "shop", "get", "deployment", "web")
    return {
        "namespaces": {"shop", "warehouse"} <= namespaces,
        "replicas": deploy["spec"]["replicas"],
        "widget": lab.v_json(name, namespace, "-n", "warehouse", "get", "widget", "w1")["spec"],
        "secrets": {
            "shop/db": lab.v_json(name, namespace, "-n", "shop", "get", "secret", "db")["data"],
            "warehouse/token": lab.v_json(
                name, namespace, "-n", "warehouse", "get", "secret", "token"
            )["data"],
        },
    }


def translated_pods_only(lab: Lab, name: str, namespace: str) -> bool:
    """The host namespace holds exactly one Running copy of each pod inside, and nothing else
    of this vcluster (nor pods of any other vcluster)."""
    virtual = lab.v_json(name, namespace, "get", "pods", "-A")["items"]
    want = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in virtual}
    host = lab.host_pods(namespace)
    got = [
        (
            p["metadata"]["labels"].get("subkube.io/managed-by"),
            p["metadata"]["annotations"].get("subkube.io/object-namespace"),
            p["metadata"]["annotations"].get("subkube.io/object-name"),
        )
        for p in host
    ]
    return (
        sorted(got) == sorted((name, ns, n) for ns, n in want)
        and len(running_pods(host)) == len(want)
        and len(want) >= 2
    )


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with versitygw(tmp_path_factory.mktemp("s3")) as server:
        server.bucket("backups")
        yield server


@pytest.fixture(scope="module")
def source(lab: Lab, s3: S3Server) -> dict[str, Any]:
    """The source vcluster, filled and snapshotted to a file and to S3, then deleted."""
    lab.ok("create", SOURCE, "-n", SOURCE_NS, "--no-connect")
    lab.v(SOURCE, SOURCE_NS, "create", "namespace", "shop")
    lab.v(SOURCE, SOURCE_NS, "create", "namespace", "warehouse")
    lab.v(SOURCE, SOURCE_NS, "apply", "-f", str(CRD))
    lab.v(SOURCE, SOURCE_NS, "wait", "--for=condition=Established", "crd/widgets.example.com")
    lab.v(SOURCE, SOURCE_NS, "apply", "-f", "-", stdin=APP)
    wait_for("the source's pods on the host", lambda: translated_pods_only(lab, SOURCE, SOURCE_NS))
    before = inside(lab, SOURCE, SOURCE_NS)
    out = lab.ok("snapshot", "create", SOURCE, "-n", SOURCE_NS, "--to", f"file://{lab.snapshots}/")
    (file_archive,) = lab.snapshots.iterdir()
    assert f"file://{file_archive}" in out
    lab.ok(
        "snapshot",
        "create",
        SOURCE,
        "-n",
        SOURCE_NS,
        "--to",
        "s3://backups/vclusters/src.tar.gz",
        **s3.env,
    )
    assert (s3.data_dir / "backups" / "vclusters" / "src.tar.gz").is_file()
    lab.ok("delete", SOURCE, "-n", SOURCE_NS)
    return {
        "inside": before,
        "file": f"file://{file_archive}",
        "s3": "s3://backups/vclusters/src.tar.gz",
    }


@pytest.mark.parametrize(
    ("new", "namespace", "via"), [("from-file", "team-b", "file"), ("from-s3", "team-c", "s3")]
)
def test_restored_into_a_new_vcluster_in_another_namespace(
    lab: Lab, s3: S3Server, source: dict[str, Any], new: str, namespace: str, via: str
) -> None:
    env = s3.env if via == "s3" else {}
    out = lab.ok(
        "restore",
        SOURCE,
        "-n",
        namespace,
        "--from",
        source[via],
        "--as",
        new,
        "--no-connect",
        **env,
    )
    assert f"runs on the snapshot of {SOURCE_NS}/{SOURCE}" in out
    assert inside(lab, new, namespace) == source["inside"]
    wait_for(f"{new}'s pods on the host", lambda: translated_pods_only(lab, new, namespace))
    assert all(p["metadata"]["name"].endswith(f"-x-{new}") for p in lab.host_pods(namespace)), (
        "host names are the new vcluster's"
    )
    assert lab.host_pods(SOURCE_NS) == [], "nothing is left in the old namespace"


def test_restore_into_the_same_vcluster_undoes_later_changes(
    lab: Lab, source: dict[str, Any]
) -> None:
    name, namespace = "from-file", "team-b"
    lab.v(name, namespace, "-n", "shop", "scale", "deployment", "web", "--replicas=3")
    lab.v(name, namespace, "-n", "shop", "create", "configmap", "later")
    wait_for("a third web pod", lambda: len(running_pods(lab.host_pods(namespace, "app=web"))) == 3)
    lab.ok("restore", name, "-n", namespace, "--from", source["file"])
    assert inside(lab, name, namespace) == source["inside"]
    assert (
        lab.v(name, namespace, "-n", "shop", "get", "configmap", "later", check=False).returncode
        != 0
    )
    wait_for("the host back at two pods", lambda: translated_pods_only(lab, name, namespace))


def test_bad_snapshot_requests_are_one_line(lab: Lab, source: dict[str, Any]) -> None:
    name, namespace = "from-file", "team-b"
    assert lab.fails("snapshot", "create", name, "-n", namespace, "--to", "ftp://x/y.tar.gz") == (
        "error: snapshot URL 'ftp://x/y.tar.gz' has scheme ftp://; use file:///path/name.tar.gz "
        "or s3://bucket/key (a trailing / names a directory)"
    )
    assert lab.fails(
        "snapshot", "create", name, "-n", namespace, "--to", "s3://backups/x.tar.gz"
    ).startswith("error: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    assert lab.fails(
        "restore", name, "-n", namespace, "--from", f"file://{lab.snapshots}/missing.tar.gz"
    ) == (f"error: no snapshot at file://{lab.snapshots}/missing.tar.gz")
    assert lab.fails(
        "restore", SOURCE, "-n", namespace, "--from", source["file"], "--as", name
    ).startswith(f"error: vcluster {name} already exists in namespace {namespace}")


def test_a_store_subkube_does_not_run_is_refused(
    lab: Lab, source: dict[str, Any], tmp_path: Path
) -> None:
    values = tmp_path / "external.yaml"
    database = f"sqlite://{tmp_path}/external.db?_journal=WAL&cache=shared"
    values.write_text(
        "controlPlane:\n  backingStore:\n    database:\n      external:\n"
        f"        enabled: true\n        dataSource: '{database}'\n"
    )
    lab.ok("create", "ext", "-n", "team-d", "-f", str(values), "--no-connect")
    refused = (
        "error: controlPlane.backingStore.database.external is a store subkube does not run: "
        "snapshot and restore it with that database's own tools"
    )
    to = f"file://{tmp_path}/ext.tar.gz"
    assert lab.fails("snapshot", "create", "ext", "-n", "team-d", "--to", to) == refused
    assert lab.fails("restore", "ext", "-n", "team-d", "--from", source["file"]) == refused
    assert lab.v("ext", "team-d", "get", "namespaces").returncode == 0, "still running"
