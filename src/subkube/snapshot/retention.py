"""Names of snapshot archives, and which scheduled ones to delete (pure)."""

import datetime as dt
import re

_STAMP = "%Y%m%dT%H%M%SZ"
SUFFIX = ".tar.gz"


def archive_name(vcluster: str, namespace: str, when: dt.datetime) -> str:
    """<vcluster>.<namespace>.<UTC time>.tar.gz: vcluster and namespace names are DNS labels
    (no dots), so vclusters sharing one prefix never take each other's names, and the names
    of one vcluster sort by time."""
    return f"{vcluster}.{namespace}.{when.astimezone(dt.UTC).strftime(_STAMP)}{SUFFIX}"


def to_prune(names: list[str], vcluster: str, namespace: str, keep: int) -> list[str]:
    """The archives of this vcluster among NAMES beyond the newest KEEP, oldest first; names
    that are not its archives are never chosen."""
    pattern = re.compile(
        rf"{re.escape(vcluster)}\.{re.escape(namespace)}\.\d{{8}}T\d{{6}}Z{re.escape(SUFFIX)}"
    )
    ours = sorted(n for n in names if pattern.fullmatch(n))
    return ours[: max(0, len(ours) - keep)]
