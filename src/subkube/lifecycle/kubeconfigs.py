"""Connecting to vclusters: contexts merged into the user's kubeconfig, and back."""

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from subkube.controlplane import kubeconfig as kc
from subkube.controlplane.pki import ADMIN, PKI
from subkube.errors import SubkubeError
from subkube.runner.state import VClusterState, controlplane_dir, vcluster_dir

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


def server_of(path: Path, context: str | None = None) -> str:
    """The API server URL that CONTEXT (else the current one) of PATH points at; "" when
    the file or the context is not there."""
    try:
        data = _read(path)
    except (OSError, SubkubeError):
        return ""
    wanted = context or data.get("current-context")
    for ctx in data.get("contexts") or []:
        if ctx.get("name") == wanted:
            cluster = (ctx.get("context") or {}).get("cluster")
            for entry in data.get("clusters") or []:
                if entry.get("name") == cluster:
                    return str((entry.get("cluster") or {}).get("server") or "")
    return ""


def host_context_name(state: VClusterState) -> str:
    return state.host_context or current_context(Path(state.host_kubeconfig)) or "host"


def context_name(state: VClusterState) -> str:
    return f"{PREFIX}{state.name}_{state.namespace}_{host_context_name(state)}"


def vcluster_kubeconfig(state: VClusterState, *, by_path: bool = False) -> dict[str, Any]:
    """The vcluster's admin kubeconfig with every entry named after its context.

    BY_PATH, for a vcluster that runs here: the CA and admin certificate are named by their
    files instead of embedded, so the context keeps working as the runner renews them (as
    minikube's context does). Embedded, the kubeconfig works wherever it is copied to.
    """
    if not state.kubeconfig or not Path(state.kubeconfig).exists():
        raise SubkubeError(
            f"vcluster {state.name} is not running; `subkube resume "
            f"{state.name} -n {state.namespace}`"
        )
    source = _read(Path(state.kubeconfig))
    name = context_name(state)
    cluster, user = source["clusters"][0]["cluster"], source["users"][0]["user"]
    pki_dir = controlplane_dir(state.namespace, state.name) / "pki"
    if by_path and state.driver == "local" and pki_dir.is_dir():
        pki = PKI(pki_dir)
        cluster = {"server": cluster["server"], "certificate-authority": str(pki.ca.cert)}
        admin = pki.client(ADMIN)
        user = {"client-certificate": str(admin.cert), "client-key": str(admin.key)}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def _upsert(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("name") != entry["name"]] + [entry]


def _merged(data: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(data)
    for section in ("clusters", "users", "contexts"):
        merged[section] = _upsert(merged.get(section) or [], mine[section][0])
    return merged


def merge_into(target: Path, state: VClusterState) -> str:
    """Add the vcluster's context to TARGET and make it current; remember the previous one."""
    mine = vcluster_kubeconfig(state, by_path=True)
    data = _read(target)
    previous = data.get("current-context") or ""
    merged = _merged(data, mine)
    merged["current-context"] = mine["current-context"]
    kc.write(target, merged)
    if not previous.startswith(PREFIX):
        (vcluster_dir(state.namespace, state.name) / "previous-context").write_text(previous)
    return str(mine["current-context"])


def refresh_context(target: Path, state: VClusterState) -> bool:
    """Rewrite the vcluster's context in TARGET, if it has one, with the certificates the
    vcluster holds now (after a rotation); the current context stays what it is."""
    mine = vcluster_kubeconfig(state, by_path=True)
    data = _read(target)
    if not any(c.get("name") == mine["current-context"] for c in data.get("contexts") or []):
        return False
    kc.write(target, _merged(data, mine))
    return True


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
