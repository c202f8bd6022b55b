"""Reading subkube.yaml: files merged in order, --set on top, old keys migrated, validated."""

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from subkube.config.model import Config
from subkube.errors import SubkubeError

Path_ = tuple[str, ...]

# Option names from the 0.1x chart, still in many articles, and where they live now.
LEGACY_KEYS: dict[Path_, Path_] = {
    ("sync", "hoststorageclasses", "enabled"): ("sync", "fromHost", "storageClasses", "enabled"),
    ("sync", "nodes", "enabled"): ("sync", "fromHost", "nodes", "enabled"),
    ("sync", "nodes", "syncAllNodes"): ("sync", "fromHost", "nodes", "selector", "all"),
    ("sync", "networkpolicies", "enabled"): ("sync", "toHost", "networkPolicies", "enabled"),
    ("sync", "ingresses", "enabled"): ("sync", "toHost", "ingresses", "enabled"),
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _pop(data: dict[str, Any], path: Path_) -> tuple[bool, Any]:
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    if not isinstance(node, dict) or path[-1] not in node:
        return False, None
    return True, node.pop(path[-1])


def _put(data: dict[str, Any], path: Path_, value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise SubkubeError(f"{'.'.join(path)}: {key} must be a mapping")
    node[path[-1]] = value


def _prune_empty(data: dict[str, Any], path: Path_) -> None:
    for depth in range(len(path) - 1, 0, -1):
        found, node = True, data
        for key in path[:depth]:
            if not isinstance(node, dict) or key not in node:
                found = False
                break
            node = node[key]
        if found and node == {}:
            _pop(data, path[:depth])


def migrate_legacy(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Move old keys to their new place; the new key wins if both are set."""
    out = copy.deepcopy(data)
    warnings = []
    for old, new in LEGACY_KEYS.items():
        found, value = _pop(out, old)
        if not found:
            continue
        _prune_empty(out, old)
        warnings.append(f"{'.'.join(old)} is an old option name; use {'.'.join(new)}")
        present, _ = _pop(copy.deepcopy(out), new)
        if not present:
            _put(out, new, value)
    return out, warnings


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """--set a.b.c=value (value read as YAML: true, 3, [x, y], "text")."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise SubkubeError(f"--set {item!r}: expected key.path=value")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        _put(out, tuple(key.split(".")), value)
    return out


def read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise SubkubeError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SubkubeError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    if not isinstance(data, dict):
        raise SubkubeError(f"{path}: the config must be a mapping at the top level")
    return data


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return f"invalid config ({source}): " + "; ".join(lines)


def validate(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise SubkubeError(_explain(exc, source)) from exc


def load(
    files: list[Path] | None = None, sets: list[str] | None = None
) -> tuple[Config, list[str]]:
    """The effective config, and warnings about old keys and risky choices."""
    data: dict[str, Any] = {}
    warnings: list[str] = []
    names = []
    for path in files or []:
        migrated, found = migrate_legacy(read_file(path))
        warnings += [f"{path}: {w}" for w in found]
        data = deep_merge(data, migrated)
        names.append(str(path))
    if sets:
        migrated, found = migrate_legacy(parse_set(sets))
        warnings += [f"--set: {w}" for w in found]
        data = deep_merge(data, migrated)
        names.append("--set")
    config = validate(data, ", ".join(names) or "defaults")
    return config, warnings + risks(config)


def risks(config: Config) -> list[str]:
    """What the config allows that a platform team should know it chose."""
    if config.policies.podSecurityStandard == "privileged":
        return [
            "policies.podSecurityStandard=privileged: tenant pods reach the host with whatever "
            "they ask for (hostPath, hostNetwork, hostPID, privileged containers, any "
            "capability), which is root on the host's nodes; use baseline unless tenants are "
            "trusted"
        ]
    return []


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "subkube configuration (subkube.yaml / Helm values)"
    return schema
