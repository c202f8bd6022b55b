"""The simulated pods' files: layout, CRI lines, what a status change writes."""

import datetime as dt
from pathlib import Path
from typing import Any

from subkube.hostcluster import podfiles, simulation
from subkube.hostcluster.runtime import sandbox_dir

HOME = Path("/state/hosts/h")


def pod(*statuses: dict[str, Any], node: str = "kwok-node-0", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "team", "uid": "u1", **meta},
        "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]},
        "status": {"phase": "Running", "containerStatuses": list(statuses)},
    }


def running(name: str, image: str = "nginx", restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "image": image, "restartCount": restarts, "state": {"running": {}}}


def test_layout_per_namespace_pod_and_container() -> None:
    assert podfiles.log_path(HOME, "team", "web-1", "web") == HOME / "pods/team/web-1/web.log"
    assert podfiles.previous_log_path(HOME, "team", "web-1", "web") == (
        HOME / "pods/team/web-1/web.previous.log"
    )
    # The local runtime's pods live apart: a namespace named like a uid cannot meet them.
    assert not sandbox_dir(HOME, "team").is_relative_to(HOME / "pods")


def test_cri_line_is_what_kubelets_write() -> None:
    when = dt.datetime(2016, 10, 6, 0, 17, 9, 669794, tzinfo=dt.UTC)
    assert podfiles.cri_line("hello", when) == ("2016-10-06T00:17:09.669794000Z stdout F hello\n")
    local = when.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert podfiles.cri_line("e", local, "stderr").startswith("2016-10-06T00:17:09.669794000Z ")


def test_started_containers_include_init_and_terminated_ones() -> None:
    p = pod(
        running("web", restarts=2),
        {"name": "waiting", "image": "x", "state": {"waiting": {}}},
        {"name": "done", "image": "busybox", "state": {"terminated": {"exitCode": 0}}},
    )
    p["status"]["initContainerStatuses"] = [
        {"name": "init", "image": "alpine", "state": {"terminated": {"exitCode": 0}}}
    ]
    assert podfiles.started_containers(p) == {
        "web": ("nginx", 2),
        "done": ("busybox", 0),
        "init": ("alpine", 0),
    }


def test_summary_keeps_little_and_marks_pods_that_are_not_simulated() -> None:
    p = pod(running("web"), resourceVersion="7", labels={"a": "b"}, annotations={"x": "y" * 999})
    assert podfiles.summary(p) == {
        "metadata": {"name": "web-1", "namespace": "team", "uid": "u1", "resourceVersion": "7"},
        "runs": {"web": ("nginx", 0)},
    }
    assert podfiles.summary(pod(node=""))["runs"] is None
    runtime = pod(labels={"app.kubernetes.io/name": "subkube"})
    runtime["spec"]["containers"] = [{"name": "subkube", "image": "subkube:0.1"}]
    assert podfiles.summary(runtime)["runs"] is None


def test_a_first_run_starts_a_log_and_a_restart_rotates_it() -> None:
    assert podfiles.starts({}, {"web": ("nginx", 0)}) == [
        podfiles.Start("web", "nginx", 0, rotate=False)
    ]
    assert podfiles.starts({"web": ("nginx", 0)}, {"web": ("nginx", 0)}) == []
    restarted = podfiles.starts({"web": ("nginx", 0)}, {"web": ("nginx", 2), "side": ("b", 0)})
    assert restarted == [
        podfiles.Start("side", "b", 0, rotate=False),
        podfiles.Start("web", "nginx", 2, rotate=True),
    ]
    assert restarted[0].line == "container side started (image b)"
    assert restarted[1].line == "container web restarted (image nginx, restart 2)"


def test_one_cluster_wide_object_per_kind_with_the_pod_placeholders() -> None:
    objects = {res.kind: obj for res, obj in podfiles.cluster_objects(HOME, 4242)}
    assert set(objects) == {"ClusterLogs", "ClusterAttach", "ClusterExec", "ClusterPortForward"}
    pod_dir = f"{HOME}/pods/$(POD_NAMESPACE)/$(POD_NAME)"
    logs = objects["ClusterLogs"]["spec"]["logs"][0]
    assert logs["logsFile"] == f"{pod_dir}/$(CONTAINER_NAME).log"
    assert logs["previousLogsFile"] == f"{pod_dir}/$(CONTAINER_NAME).previous.log"
    assert objects["ClusterAttach"]["spec"]["attaches"][0]["logsFile"] == logs["logsFile"]
    assert objects["ClusterExec"]["spec"]["execs"][0]["local"]["workDir"] == pod_dir
    forward = objects["ClusterPortForward"]["spec"]["forwards"][0]
    assert forward == {"target": {"address": "127.0.0.1", "port": 4242}}
    for obj in objects.values():
        assert "namespace" not in obj["metadata"]
        assert "selector" not in obj["spec"]


def test_a_pods_directory_belongs_to_one_pod(tmp_path: Path) -> None:
    key = ("team", "web-1")
    runs = {"web": ("nginx", 0), "side": ("b", 0)}
    assert simulation._adopt(tmp_path, key, "u1", runs) == {}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    simulation._write(tmp_path, key, podfiles.starts({}, {"web": ("nginx", 0)}), now)
    # The same pod after a restart of the host: its logs are kept and known.
    assert simulation._adopt(tmp_path, key, "u1", runs) == {"web": ("nginx", 0)}
    log = podfiles.log_path(tmp_path, *key, "web")
    assert log.read_text() == podfiles.cri_line("container web started (image nginx)", now)
    simulation._write(tmp_path, key, podfiles.starts({"web": ("nginx", 0)}, {"web": ("n", 1)}), now)
    assert "started" in podfiles.previous_log_path(tmp_path, *key, "web").read_text()
    assert "restart 1" in log.read_text()
    # A new pod of that name starts afresh.
    assert simulation._adopt(tmp_path, key, "u2", runs) == {}
    assert not log.exists()
    simulation._remove(tmp_path, key)
    assert not (tmp_path / "pods" / "team").exists()
