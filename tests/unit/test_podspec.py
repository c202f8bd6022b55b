"""The local pod runtime's pure mapping of a pod onto this machine."""

import sys
from pathlib import Path
from typing import Any

import pytest

from subkube.hostcluster import podspec


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "vc-0",
            "namespace": "team",
            "uid": "u1",
            "labels": {"a": "b", "app.kubernetes.io/name": "subkube"},
        },
        "spec": {
            "nodeName": "kwok-node-0",
            "serviceAccountName": "vc-vc",
            "containers": [{"name": "subkube", "image": "ghcr.io/org/subkube:0.1.0"}],
            **spec,
        },
        "status": {"phase": "Running", "podIP": "10.244.0.7"},
    }


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("subkube", "subkube"),
        ("subkube/subkube:1.0", "subkube"),
        ("registry:5000/org/subkube@sha256:abc", "subkube"),
        ("nginx:1.27", "nginx"),
        ("registry:5000/subkube-ish", "subkube-ish"),
    ],
)
def test_image_repository_name(image: str, name: str) -> None:
    assert podspec.image_repository_name(image) == name


def test_only_scheduled_live_subkube_pods_run_locally() -> None:
    assert podspec.runs_locally(pod())
    assert not podspec.runs_locally(pod(nodeName=""))
    assert not podspec.runs_locally(pod(containers=[{"name": "c", "image": "nginx"}]))
    unlabelled = pod()
    del unlabelled["metadata"]["labels"]["app.kubernetes.io/name"]
    assert not podspec.runs_locally(unlabelled)
    deleting = pod()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not podspec.runs_locally(deleting)
    done = pod()
    done["status"]["phase"] = "Succeeded"
    assert not podspec.runs_locally(done)


def test_paths_under_mounts_are_rewritten_longest_mount_first() -> None:
    mounts = {"/data": Path("/l/pv"), "/etc/subkube": Path("/l/cfg"), "/data/x": Path("/l/x")}
    assert podspec.rewrite_arg("--config=/etc/subkube/subkube.yaml", mounts) == (
        "--config=/l/cfg/subkube.yaml"
    )
    assert podspec.rewrite_arg("--data-dir=/data", mounts) == "--data-dir=/l/pv"
    assert podspec.rewrite_arg("/data/x/y", mounts) == "/l/x/y"
    assert podspec.rewrite_arg("/database", mounts) == "/database"
    assert podspec.rewrite_arg("--namespace=team", mounts) == "--namespace=team"


def test_the_entrypoint_is_this_pythons_subkube() -> None:
    container = {"args": ["run", "vc", "--data-dir=/data"]}
    assert podspec.container_argv(container, {"/data": Path("/l")}) == [
        sys.executable,
        "-m",
        "subkube",
        "run",
        "vc",
        "--data-dir=/l",
    ]
    with_command = {"command": ["/venv/bin/subkube", "-v"], "args": ["run"]}
    assert podspec.container_argv(with_command, {})[3:] == ["-v", "run"]
    with pytest.raises(ValueError, match="only the subkube entrypoint"):
        podspec.container_argv({"command": ["sh", "-c", "x"]}, {})


def test_env_points_at_this_machine_and_resolves_field_refs_and_mounts() -> None:
    container = {
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
            {"name": "PLAIN", "value": "x"},
            {"name": "DATA", "value": "/data/sub"},
        ]
    }
    env = podspec.container_env(
        pod(),
        container,
        api_port=6443,
        local_port=40000,
        service_account_dir="/l/sa",
        mounts={"/data": Path("/l/claim")},
    )
    assert env["DATA"] == "/l/claim/sub"
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert (env["SUBKUBE_BIND_ADDRESS"], env["SUBKUBE_PORT"]) == ("127.0.0.1", "40000")
    assert env["SUBKUBE_SERVICE_ACCOUNT_DIR"] == "/l/sa"
    assert (env["POD_IP"], env["NS"], env["A"], env["PLAIN"]) == ("10.244.0.7", "team", "b", "x")
    secret_ref = {"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    with pytest.raises(ValueError, match="only value and fieldRef"):
        podspec.container_env(
            pod(), secret_ref, api_port=1, local_port=2, service_account_dir="", mounts={}
        )


def test_kwok_objects_are_owned_by_the_pod() -> None:
    forward = podspec.port_forward(pod(), {8443: 40000})
    assert forward["spec"]["forwards"] == [
        {"ports": [8443], "target": {"port": 40000, "address": "127.0.0.1"}}
    ]
    logs = podspec.logs(pod(), "subkube", Path("/l/subkube.log"))
    attach = podspec.attach(pod(), "subkube", Path("/l/subkube.log"))
    assert attach["spec"]["attaches"] == [{"containers": ["subkube"], "logsFile": "/l/subkube.log"}]
    exec_in = podspec.exec_in(pod(), Path("/l"), {"B": "2", "A": "1"})
    assert exec_in["spec"]["execs"] == [
        {
            "local": {
                "workDir": "/l",
                "envs": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            }
        }
    ]
    for obj in (forward, logs, attach, exec_in):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "u1"
        assert (obj["metadata"]["namespace"], obj["metadata"]["name"]) == ("team", "vc-0")


def test_volume_items_select_and_rename_keys() -> None:
    assert podspec.key_to_path(None, ["a", "b"]) == {"a": "a", "b": "b"}
    assert podspec.key_to_path([{"key": "a", "path": "x/y"}], ["a", "b"]) == {"a": "x/y"}
