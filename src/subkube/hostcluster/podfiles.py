"""Pure pieces of the simulated pods' files: where they are, what they hold, and the cluster-wide
kwok objects that serve them to `kubectl logs`, `attach`, `exec` and `port-forward`.

Every pod kwok simulates gets a directory `<host home>/pods/<namespace>/<pod>/` holding one log
per container, `<container>.log`, in the CRI format kubelets write and kwok reads; on a restart
the log becomes `<container>.previous.log`. (Pods the host runs as local processes live in
`<host home>/runtime/<uid>/`, so the two never meet.)
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subkube.controlplane.kwok import (
    CLUSTER_ATTACHES,
    CLUSTER_EXECS,
    CLUSTER_LOGS,
    CLUSTER_PORT_FORWARDS,
)
from subkube.hostcluster import podspec
from subkube.kube.resource import Resource

Obj = dict[str, Any]
# name -> (image, restartCount) of each container that has started
Runs = dict[str, tuple[str, int]]

# The placeholders subkube's kwok patch expands in the paths of a Logs, Attach or Exec rule.
NAMESPACE, NAME, CONTAINER = "$(POD_NAMESPACE)", "$(POD_NAME)", "$(CONTAINER_NAME)"
CLUSTER_OBJECT_NAME = "subkube-simulated-pods"
# Remembers, inside a pod's directory, which pod it was made for (a new pod of that name
# starts afresh, also across restarts of the host).
UID_FILE = ".uid"


def pod_dir(home: Path, namespace: str, pod: str) -> Path:
    return home / "pods" / namespace / pod


def log_path(home: Path, namespace: str, pod: str, container: str) -> Path:
    """The log file of a simulated container: append CRI lines (`cri_line`) to it to make the
    container print."""
    return pod_dir(home, namespace, pod) / f"{container}.log"


def previous_log_path(home: Path, namespace: str, pod: str, container: str) -> Path:
    return pod_dir(home, namespace, pod) / f"{container}.previous.log"


def cri_line(text: str, when: dt.datetime, stream: str = "stdout") -> str:
    """One full line of a container log as kubelets write it:
    `2016-10-06T00:17:09.669794202Z stdout F text`."""
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{stamp}000Z {stream} F {text}\n"


def simulated(pod: Obj) -> bool:
    """A scheduled pod that kwok fakes: every pod but those the local runtime runs."""
    return bool(pod.get("spec", {}).get("nodeName")) and not podspec.is_runtime_pod(pod)


def started_containers(pod: Obj) -> Runs:
    """The containers, init containers included, that have run or are running."""
    status = pod.get("status", {})
    out: Runs = {}
    for item in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        states = (item.get("state") or {}, item.get("lastState") or {})
        if any("running" in s or "terminated" in s for s in states):
            out[item["name"]] = (item.get("image", ""), int(item.get("restartCount") or 0))
    return out


def summary(pod: Obj) -> Obj:
    """All the simulator keeps of a pod (its informer's cache holds every pod of the host)."""
    meta = pod.get("metadata", {})
    return {
        "metadata": {
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "runs": started_containers(pod) if simulated(pod) else None,
    }


@dataclass(frozen=True)
class Start:
    """A container's run began: a log file (the old one kept as previous on a restart)
    with a first line."""

    container: str
    image: str
    restarts: int
    rotate: bool

    @property
    def line(self) -> str:
        if self.rotate:
            return (
                f"container {self.container} restarted (image {self.image}, "
                f"restart {self.restarts})"
            )
        return f"container {self.container} started (image {self.image})"


def starts(before: Runs, now: Runs) -> list[Start]:
    """What to write when a pod's containers go from BEFORE to NOW."""
    out = []
    for name, (image, restarts) in sorted(now.items()):
        seen = before.get(name)
        if seen is None:
            out.append(Start(name, image, restarts, rotate=False))
        elif restarts > seen[1]:
            out.append(Start(name, image, restarts, rotate=True))
    return out


def cluster_objects(home: Path, echo_port: int) -> list[tuple[Resource, Obj]]:
    """One cluster-wide kwok object per kind, serving every simulated pod from its files."""
    directory = str(pod_dir(home, NAMESPACE, NAME))
    logs = {
        "logsFile": f"{directory}/{CONTAINER}.log",
        "previousLogsFile": f"{directory}/{CONTAINER}.previous.log",
        "follow": True,
    }
    specs: list[tuple[Resource, Obj]] = [
        (CLUSTER_LOGS, {"logs": [logs]}),
        (CLUSTER_ATTACHES, {"attaches": [{"logsFile": logs["logsFile"]}]}),
        (CLUSTER_EXECS, {"execs": [{"local": {"workDir": directory}}]}),
        (
            CLUSTER_PORT_FORWARDS,
            {"forwards": [{"target": {"address": "127.0.0.1", "port": echo_port}}]},
        ),
    ]
    return [
        (
            res,
            {
                "apiVersion": res.api_version,
                "kind": res.kind,
                "metadata": {"name": CLUSTER_OBJECT_NAME},
                "spec": spec,
            },
        )
        for res, spec in specs
    ]
