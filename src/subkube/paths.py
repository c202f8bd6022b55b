"""Where subkube keeps things outside the repository."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Built and downloaded binaries, build trees, wheels."""
    env = os.environ.get("SUBKUBE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "subkube"


def state_dir() -> Path:
    """Data of local hosts and vclusters: PKI, stores, logs, pid files."""
    env = os.environ.get("SUBKUBE_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "subkube"
