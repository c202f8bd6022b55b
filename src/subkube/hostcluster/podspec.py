"""Pure pieces of the local pod runtime: which pods it runs, and how a container's view of the
world (mount paths, ports, downward API) maps onto this machine."""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

# The repository name of the image `subkube image build` makes (entrypoint `subkube`).
RUNTIME_IMAGE = "subkube"
RUNTIME_LABEL, RUNTIME_LABEL_VALUE = "app.kubernetes.io/name", "subkube"
RUNTIME_POD_SELECTOR = f"{RUNTIME_LABEL}={RUNTIME_LABEL_VALUE}"
# Where a kubelet mounts the pod's service-account token, CA and namespace.
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# The port `subkube run --in-cluster` serves the virtual API on (the chart's containerPort).
API_CONTAINER_PORT = 8443


def image_repository_name(image: str) -> str:
    """`registry:5000/org/subkube:1.2@sha256:..` -> `subkube`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def is_runtime_pod(pod: Obj) -> bool:
    """A pod of the chart (its label) whose one container is the subkube image."""
    labels = pod.get("metadata", {}).get("labels") or {}
    containers = pod.get("spec", {}).get("containers") or []
    return (
        labels.get(RUNTIME_LABEL) == RUNTIME_LABEL_VALUE
        and len(containers) == 1
        and image_repository_name(containers[0].get("image", "")) == RUNTIME_IMAGE
    )


def runs_locally(pod: Obj) -> bool:
    """A scheduled, live runtime pod."""
    return (
        is_runtime_pod(pod)
        and bool(pod.get("spec", {}).get("nodeName"))
        and "deletionTimestamp" not in pod.get("metadata", {})
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    )


def rewrite_path(value: str, mounts: dict[str, Path]) -> str:
    """A container path under a mount -> the local directory behind it (longest mount wins)."""
    for mount in sorted(mounts, key=len, reverse=True):
        if value == mount or value.startswith(mount.rstrip("/") + "/"):
            return str(mounts[mount]) + value[len(mount) :]
    return value


def rewrite_arg(arg: str, mounts: dict[str, Path]) -> str:
    if arg.startswith("--") and "=" in arg:
        flag, value = arg.split("=", 1)
        return f"{flag}={rewrite_path(value, mounts)}"
    return rewrite_path(arg, mounts)


def container_argv(container: Obj, mounts: dict[str, Path]) -> list[str]:
    """The image's entrypoint is `subkube`: run this Python's subkube with the pod's args.
    A `command` is honoured only when it is that entrypoint."""
    command = list(container.get("command") or [])
    if command and Path(command[0]).name != "subkube":
        raise ValueError(f"the local runtime runs only the subkube entrypoint, not {command[0]!r}")
    args = command[1:] + list(container.get("args") or [])
    return [sys.executable, "-m", "subkube", *(rewrite_arg(a, mounts) for a in args)]


def field_value(pod: Obj, path: str, host_ip: str = "127.0.0.1") -> str:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((meta.get(source) or {}).get(path[len(prefix) + 2 : -2], ""))
    raise ValueError(f"the local runtime does not provide the field {path}")


def container_env(
    pod: Obj,
    container: Obj,
    *,
    api_port: int,
    local_port: int,
    service_account_dir: str,
    mounts: dict[str, Path],
) -> dict[str, str]:
    """What a kubelet would put in the environment, pointed at this machine: the host API on
    loopback, the virtual API on LOCAL_PORT of loopback (the PortForward maps the container
    port there), and a value naming a path under a mount, as the args do, the directory
    behind it."""
    env = {
        "HOSTNAME": pod["metadata"]["name"],
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(api_port),
        "SUBKUBE_BIND_ADDRESS": "127.0.0.1",
        "SUBKUBE_PORT": str(local_port),
    }
    if service_account_dir:
        env["SUBKUBE_SERVICE_ACCOUNT_DIR"] = service_account_dir
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = rewrite_path(str(item["value"]), mounts)
        elif "fieldRef" in (item.get("valueFrom") or {}):
            env[item["name"]] = field_value(pod, item["valueFrom"]["fieldRef"]["fieldPath"])
        elif item.get("valueFrom"):
            raise ValueError(f"the local runtime resolves only value and fieldRef ({item['name']})")
    return env


def container_ports(container: Obj) -> list[int]:
    return [int(p["containerPort"]) for p in container.get("ports") or []]


def port_forward(pod: Obj, forwards: dict[int, int]) -> Obj:
    """A kwok PortForward: `kubectl port-forward` to the pod's port P reaches FORWARDS[P]."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "PortForward",
        "metadata": _owned_meta(pod),
        "spec": {
            "forwards": [
                {"ports": [port], "target": {"port": local, "address": "127.0.0.1"}}
                for port, local in sorted(forwards.items())
            ]
        },
    }


def logs(pod: Obj, container: str, log_file: Path) -> Obj:
    """A kwok Logs object: `kubectl logs` of the pod reads the process's output."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": _owned_meta(pod),
        "spec": {"logs": [{"containers": [container], "logsFile": str(log_file), "follow": True}]},
    }


def exec_in(pod: Obj, work_dir: Path, env: dict[str, str]) -> Obj:
    """A kwok Exec object: `kubectl exec` runs the command on this machine, in WORK_DIR,
    with the container's ENV (as a kubelet's exec does)."""
    envs = [{"name": k, "value": v} for k, v in sorted(env.items())]
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Exec",
        "metadata": _owned_meta(pod),
        "spec": {"execs": [{"local": {"workDir": str(work_dir), "envs": envs}}]},
    }


def attach(pod: Obj, container: str, log_file: Path) -> Obj:
    """A kwok Attach object: `kubectl attach` follows the process's output."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Attach",
        "metadata": _owned_meta(pod),
        "spec": {"attaches": [{"containers": [container], "logsFile": str(log_file)}]},
    }


def _owned_meta(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}
        ],
    }


def key_to_path(items: list[Obj] | None, keys: list[str]) -> dict[str, str]:
    """The files of a secret/configMap volume: every key, or just the listed items."""
    if not items:
        return {k: k for k in keys}
    return {i["key"]: i["path"] for i in items if i["key"] in keys}


def run_as(pod: Obj, container: Obj) -> tuple[int, int, int | None] | None:
    """The uid, gid and fsGroup a kubelet would run the container with; None: the image's."""
    pod_ctx = pod.get("spec", {}).get("securityContext") or {}
    ctx = {**pod_ctx, **(container.get("securityContext") or {})}
    if "runAsUser" not in ctx:
        return None
    uid = int(ctx["runAsUser"])
    gid = int(ctx.get("runAsGroup", uid))
    fs_group = pod_ctx.get("fsGroup")
    return uid, gid, int(fs_group) if fs_group is not None else None


def security_args(ctx: Obj) -> list[str]:
    """A container's securityContext as the engine's flags: capabilities, privilege
    escalation, a read-only root filesystem."""
    caps = ctx.get("capabilities") or {}
    args = [f"--cap-drop={c.lower()}" for c in caps.get("drop") or []]
    args += [f"--cap-add={c.lower()}" for c in caps.get("add") or []]
    if ctx.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt=no-new-privileges"]
    if ctx.get("readOnlyRootFilesystem"):
        args += ["--read-only"]
    return args


def pod_address(namespace: str, name: str) -> str:
    """A container's own address on this machine, where all share one network: a loopback
    address of its own, the same for every incarnation of the pod (a StatefulSet's pod keeps
    its name, and its peers the address they know it by). 127.0.0.0/8 is loopback whole."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return f"127.{digest[0] % 254 + 1}.{digest[1]}.{digest[2] % 254 + 1}"


def with_address(pod: Obj, address: str) -> Obj:
    """POD as its container sees it (status.podIP in the downward API) at ADDRESS."""
    status = {**(pod.get("status") or {}), "podIP": address, "podIPs": [{"ip": address}]}
    return {**pod, "status": status}


def peer_hosts(pod: Obj, replicas: int, cluster_domain: str = "cluster.local") -> dict[str, str]:
    """The DNS names of a StatefulSet pod's peers under its headless Service (`NAME-i.SVC.NS
    .svc`, with and without the cluster domain) and their addresses: what a cluster's DNS
    would answer, written into the container's hosts file."""
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    subdomain, hostname = spec.get("subdomain"), spec.get("hostname") or meta["name"]
    base, _, ordinal = hostname.rpartition("-")
    if not subdomain or not base or not ordinal.isdigit():
        return {}
    namespace = meta["namespace"]
    out = {}
    for i in range(max(replicas, int(ordinal) + 1)):
        address = pod_address(namespace, f"{base}-{i}")
        for suffix in ("svc", f"svc.{cluster_domain}"):
            out[f"{base}-{i}.{subdomain}.{namespace}.{suffix}"] = address
    return out


def container_name(pod: Obj) -> str:
    """The engine's name of a pod's container: unique per pod incarnation."""
    return f"subkube-pod-{pod['metadata']['uid']}"


def container_run_args(
    pod: Obj,
    container: Obj,
    *,
    name: str,
    labels: dict[str, str],
    mounts: dict[str, Path],
    env: dict[str, str],
    ulimits: list[str],
    hosts: dict[str, str] | None = None,
) -> list[str]:
    """`podman run` arguments for a pod's one container, in the foreground (its output is the
    pod's log), on this machine's network: the ports it listens on are the ones the
    PortForward maps, as with the process runtime."""
    args = ["run", "--rm", "--replace", "--name", name, "--network=host", "--pull=never"]
    args += [f"--label={k}={v}" for k, v in sorted(labels.items())]
    args += [f"--add-host={name}:{address}" for name, address in sorted((hosts or {}).items())]
    args += ulimits
    identity = run_as(pod, container)
    if identity is not None:
        uid, gid, fs_group = identity
        args += ["--user", f"{uid}:{gid}"]
        if fs_group is not None:
            args += ["--group-add", str(fs_group)]
    args += security_args(container.get("securityContext") or {})
    for target, source in sorted(mounts.items()):
        args += ["--volume", f"{source}:{target}"]
    for key, value in sorted(env.items()):
        args += ["--env", f"{key}={value}"]
    if container.get("workingDir"):
        args += ["--workdir", container["workingDir"]]
    command = list(container.get("command") or [])
    if command:
        args += ["--entrypoint", json.dumps(command)]
    return [*args, container["image"], *(container.get("args") or [])]


def warning_event(pod: Obj, reason: str, message: str, now: str) -> Obj:
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": "Warning",
        "reason": reason,
        "message": message,
        "source": {"component": "subkube-local-runtime"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
