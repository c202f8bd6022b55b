"""How the local host runs a pod of the subkube image as a container: pure argv building."""

from pathlib import Path
from typing import Any

import pytest

from subkube.hostcluster import engine, podspec


def chart_pod(**container: Any) -> dict[str, Any]:
    """The chart's StatefulSet pod, as the API server has it."""
    return {
        "metadata": {"name": "vh-0", "namespace": "helm-ns", "uid": "u-1"},
        "spec": {
            "securityContext": {"runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
            "containers": [
                {
                    "name": "subkube",
                    "image": "subkube/subkube:0.1.0",
                    "args": ["--verbose", "run", "vh", "--data-dir=/data"],
                    **container,
                }
            ],
        },
    }


def run_args(pod: dict[str, Any], **kw: Any) -> list[str]:
    return podspec.container_run_args(
        pod,
        pod["spec"]["containers"][0],
        name=podspec.container_name(pod),
        labels={engine.HOST_LABEL: "/hosts/h"},
        mounts=kw.get("mounts", {}),
        env=kw.get("env", {}),
        ulimits=["--ulimit", "nofile=10:10"],
    )


def test_the_container_runs_the_pods_image_and_args_in_the_foreground() -> None:
    args = run_args(chart_pod())
    assert args[:2] == ["run", "--rm"]
    assert "--detach" not in args
    assert "-d" not in args
    assert args[-5:] == ["subkube/subkube:0.1.0", "--verbose", "run", "vh", "--data-dir=/data"]
    assert args[args.index("--name") + 1] == "subkube-pod-u-1"
    # On this machine's network, with images from local storage only: nothing is pulled.
    assert {"--network=host", "--pull=never", "--replace"} <= set(args)
    assert "--label=io.subkube.host=/hosts/h" in args
    assert args[args.index("--ulimit") + 1] == "nofile=10:10"


def test_the_pods_user_and_fs_group_are_the_containers() -> None:
    args = run_args(chart_pod())
    assert args[args.index("--user") + 1] == "65532:65532"
    assert args[args.index("--group-add") + 1] == "65532"
    # A container's own securityContext wins over the pod's.
    args = run_args(chart_pod(securityContext={"runAsUser": 1000}))
    assert args[args.index("--user") + 1] == "1000:65532"


def test_without_a_user_the_images_own_is_kept() -> None:
    pod = chart_pod()
    del pod["spec"]["securityContext"]
    args = run_args(pod)
    assert "--user" not in args
    assert "--group-add" not in args
    assert podspec.run_as(pod, pod["spec"]["containers"][0]) is None


def test_volumes_env_workdir_and_command_are_passed_unchanged() -> None:
    pod = chart_pod(command=["/opt/subkube/bin/subkube"], workingDir="/data")
    args = run_args(
        pod,
        mounts={"/data": Path("/pv/1"), "/var/run/secrets/x": Path("/sb/v/token")},
        env={"SUBKUBE_PORT": "4000", "KUBERNETES_SERVICE_HOST": "127.0.0.1"},
    )
    volumes = [args[i + 1] for i, a in enumerate(args) if a == "--volume"]
    assert volumes == ["/pv/1:/data", "/sb/v/token:/var/run/secrets/x"]
    env = [args[i + 1] for i, a in enumerate(args) if a == "--env"]
    assert env == ["KUBERNETES_SERVICE_HOST=127.0.0.1", "SUBKUBE_PORT=4000"]
    assert args[args.index("--workdir") + 1] == "/data"
    assert args[args.index("--entrypoint") + 1] == '["/opt/subkube/bin/subkube"]'


def test_exec_enters_the_container_through_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    prefix = engine.exec_prefix("subkube-pod-u-1")
    assert prefix[0] == "/usr/bin/podman"
    assert prefix[-4:] == ["exec", "--interactive", "{tty}", "subkube-pod-u-1"]
    assert "runc" in prefix
    assert "cgroupfs" in prefix


@pytest.mark.parametrize(
    ("installed", "requested", "chosen"),
    [
        (True, "auto", engine.Engine.container),
        (False, "auto", engine.Engine.process),
        (True, "process", engine.Engine.process),
    ],
)
def test_the_engine_is_containers_where_podman_is_installed(
    monkeypatch: pytest.MonkeyPatch, installed: bool, requested: str, chosen: engine.Engine
) -> None:
    monkeypatch.setattr("subkube.podman.available", lambda: installed)
    assert engine.choose(requested) is chosen
    assert engine.describe(chosen).startswith(chosen.value)


def test_the_containers_security_context_is_the_engines() -> None:
    pod = chart_pod(
        securityContext={
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "readOnlyRootFilesystem": True,
        }
    )
    args = run_args(pod)
    assert {
        "--cap-drop=all",
        "--cap-add=net_bind_service",
        "--security-opt=no-new-privileges",
        "--read-only",
    } <= set(args)
    assert not [a for a in run_args(chart_pod()) if a.startswith(("--cap", "--security-opt"))]
