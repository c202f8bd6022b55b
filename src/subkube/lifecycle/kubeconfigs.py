"""Connecting to vclusters: contexts merged into the user's kubeconfig, and back."""

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from subkube.controlplane import kubeconfig as kc
from subkube.errors import SubkubeError
from subkube.runner.state import VClusterState, vcluster_dir

PREFIX = "subkube_"


def user_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path.home() / ".kube" / "config"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [],
            "users": [],
            "contexts": [],
            "current-context": "",
            "preferences": {},
        }
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SubkubeError(f"{path} is not a valid kubeconfig: {exc}") from exc
    if not isinstance(data, dict):
        raise SubkubeError(f"{path} is not a valid kubeconfig")
    return data


def current_context(path: Path) -> str:
    return str(_read(path).get("current-context") or "")


def host_context_name(state: VClusterState) -> str:
    return state.host_context or current_context(Path(state.host_kubeconfig)) or "host"


def context_name(state: VClusterState) -> str:
    return f"{PREFIX}{state.name}_{state.namespace}_{host_context_name(state)}"


def vcluster_kubeconfig(state: VClusterState) -> dict[str, Any]:
    """The vcluster's admin kubeconfig with every entry named after its context."""
    if not state.kubeconfig or not Path(state.kubeconfig).exists():
        raise SubkubeError(
            f"vcluster {state.name} is not running; `subkube resume "
            f"{state.name} -n {state.namespace}`"
        )
    source = _read(Path(state.kubeconfig))
    name = context_name(state)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": source["clusters"][0]["cluster"]}],
        "users": [{"name": name, "user": source["users"][0]["user"]}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def _upsert(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("name") != entry["name"]] + [entry]


def merge_into(target: Path, state: VClusterState) -> str:
    """Add the vcluster's context to TARGET and make it current; remember the previous one."""
    mine = vcluster_kubeconfig(state)
    data = _read(target)
    previous = data.get("current-context") or ""
    merged = copy.deepcopy(data)
    for section in ("clusters", "users", "contexts"):
        merged[section] = _upsert(merged.get(section) or [], mine[section][0])
    merged["current-context"] = mine["current-context"]
    kc.write(target, merged)
    if not previous.startswith(PREFIX):
        (vcluster_dir(state.namespace, state.name) / "previous-context").write_text(previous)
    return str(mine["current-context"])


def disconnect(target: Path) -> str:
    """Switch TARGET back to the context that was current before `subkube connect`."""
    data = _read(target)
    current = str(data.get("current-context") or "")
    if not current.startswith(PREFIX):
        raise SubkubeError(
            f"the current context ({current or 'none'}) is not a vcluster; nothing to disconnect"
        )
    name, namespace = current[len(PREFIX) :].split("_", 2)[:2]
    remembered = vcluster_dir(namespace, name) / "previous-context"
    previous = remembered.read_text().strip() if remembered.exists() else ""
    data["current-context"] = previous
    kc.write(target, data)
    return previous
