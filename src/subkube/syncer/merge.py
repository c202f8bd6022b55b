"""Three-way merge of labels/annotations: ours win, removals propagate, others' survive.

The keys we set last time are recorded in an annotation on the host object; a key we set
before but no longer want is removed, a key someone else added is left alone.
"""

from collections.abc import Iterable
from typing import Any

import orjson

from subkube.syncer.names import DOMAIN

MANAGED_LABELS = f"{DOMAIN}/managed-labels"
MANAGED_ANNOTATIONS = f"{DOMAIN}/managed-annotations"


def _recorded(annotations: dict[str, str], record: str) -> set[str]:
    try:
        keys = orjson.loads(annotations.get(record, "[]"))
    except orjson.JSONDecodeError:
        return set()
    return set(keys) if isinstance(keys, list) else set()


def merge_map(
    actual: dict[str, str] | None, desired: dict[str, str], previously: set[str]
) -> dict[str, str]:
    out = dict(actual or {})
    for key in previously - desired.keys():
        out.pop(key, None)
    out.update(desired)
    return out


def record(keys: Iterable[str]) -> str:
    # Label and annotation keys are ASCII: the same text as json.dumps's compact form.
    return orjson.dumps(sorted(keys)).decode()


def merged_metadata(
    actual_meta: dict[str, Any], desired_meta: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and annotations the host object should carry after a merge."""
    actual_annotations = actual_meta.get("annotations") or {}
    desired_labels = desired_meta.get("labels") or {}
    desired_annotations = {
        k: v
        for k, v in (desired_meta.get("annotations") or {}).items()
        if k not in (MANAGED_LABELS, MANAGED_ANNOTATIONS)
    }
    labels = merge_map(
        actual_meta.get("labels"), desired_labels, _recorded(actual_annotations, MANAGED_LABELS)
    )
    annotations = merge_map(
        actual_annotations, desired_annotations, _recorded(actual_annotations, MANAGED_ANNOTATIONS)
    )
    annotations[MANAGED_LABELS] = record(desired_labels.keys())
    annotations[MANAGED_ANNOTATIONS] = record(desired_annotations.keys())
    return labels, annotations


def stamp_records(obj: dict[str, Any]) -> dict[str, Any]:
    """Record on a to-be-created host object which labels/annotations are ours."""
    meta = obj.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    annotations[MANAGED_ANNOTATIONS] = record(
        [k for k in annotations if k not in (MANAGED_LABELS, MANAGED_ANNOTATIONS)]
    )
    annotations[MANAGED_LABELS] = record((meta.get("labels") or {}).keys())
    return obj


def merge_patch(actual: Any, wanted: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ACTUAL into WANTED: nested objects are
    diffed recursively, removed keys become null, anything else is replaced whole."""
    if not isinstance(actual, dict) or not isinstance(wanted, dict):
        return wanted
    patch: dict[str, Any] = {}
    for key, value in wanted.items():
        if key not in actual:
            patch[key] = value
        elif actual[key] != value:
            patch[key] = merge_patch(actual[key], value)
    for key in actual:
        if key not in wanted:
            patch[key] = None
    return patch
