"""Real control planes on loopback, driven through the Python API and real kubectl."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from subkube.binaries.catalog import find
from subkube.binaries.pins import load_pins
from subkube.controlplane.controlplane import ControlPlane
from subkube.controlplane.health import ComponentFailed
from subkube.controlplane.spec import ControlPlaneSpec
from subkube.daemonize import pid_alive
from tests.conftest import kubectl

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("store", ["kine", "etcd"])
async def test_restart_on_the_same_data_dir_keeps_objects(tmp_path: Path, store: str) -> None:
    spec = ControlPlaneSpec(name=f"cp-{store}", data_dir=tmp_path / "cp", store=store)
    async with ControlPlane(spec) as cp:
        version = json.loads(kubectl(cp.kubeconfig, "version", "-o", "json").stdout)
        assert version["serverVersion"]["gitVersion"] == load_pins().kubernetes.version
        kubectl(cp.kubeconfig, "create", "namespace", "keep-me")
        kubectl(
            cp.kubeconfig, "-n", "keep-me", "create", "configmap", "c", "--from-literal=answer=42"
        )
        first_server = cp.server
    async with ControlPlane(spec) as cp:
        assert cp.server == first_server, "a restart keeps its ports when they are free"
        got = kubectl(
            cp.kubeconfig, "-n", "keep-me", "get", "configmap", "c", "-o", "jsonpath={.data.answer}"
        )
        assert got.stdout == "42"


async def test_controller_manager_and_scheduler_work(tmp_path: Path) -> None:
    spec = ControlPlaneSpec(name="cp-full", data_dir=tmp_path / "cp", scheduler=True)
    async with ControlPlane(spec) as cp:
        kubectl(cp.kubeconfig, "create", "namespace", "x")
        # The service-account controller (in the controller-manager) creates "default".
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (
                kubectl(cp.kubeconfig, "-n", "x", "get", "sa", "default", check=False).returncode
                == 0
            ):
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail("the controller-manager never created the default service account")
        assert {p.name for p in cp.processes} == {
            "kine",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        }


async def test_a_taken_port_fails_fast_naming_the_component(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        spec = ControlPlaneSpec(
            name="cp-port", data_dir=tmp_path / "cp", ports={"apiserver": port}, startup_timeout=30
        )
        cp = ControlPlane(spec)
        with pytest.raises(ComponentFailed, match=rf"kube-apiserver .*port {port}.* in use"):
            await cp.start()
    assert cp.processes == [], "everything started before the failure is stopped"


def _broken_bin_dir(tmp_path: Path, name: str, script: str) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    for other in ("kine", "etcd", "kube-apiserver", "kube-controller-manager"):
        real = find(other)
        assert real is not None, "run `make setup` first"
        (d / other).symlink_to(real)
    (d / name).unlink()
    (d / name).write_text(f"#!/bin/sh\n{script}\n")
    (d / name).chmod(0o755)
    return d


async def test_a_broken_binary_fails_naming_the_component_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _broken_bin_dir(
        tmp_path, "kube-apiserver", "echo 'Error: unknown flag: --etcd-servers' >&2; exit 1"
    )
    monkeypatch.setenv("SUBKUBE_BIN_DIR", str(d))
    spec = ControlPlaneSpec(name="cp-broken", data_dir=tmp_path / "cp", startup_timeout=30)
    with pytest.raises(ComponentFailed, match="kube-apiserver exited with code 1") as info:
        await ControlPlane(spec).start()
    assert "unknown flag: --etcd-servers" in str(info.value)


async def test_a_hanging_component_fails_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _broken_bin_dir(tmp_path, "kube-controller-manager", "exec sleep 300")
    monkeypatch.setenv("SUBKUBE_BIN_DIR", str(d))
    spec = ControlPlaneSpec(name="cp-hang", data_dir=tmp_path / "cp", startup_timeout=8)
    cp = ControlPlane(spec)
    with pytest.raises(ComponentFailed, match="kube-controller-manager was not healthy within 8s"):
        await cp.start()
    assert cp.processes == []


def test_sigkill_of_the_python_parent_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "pids.json"
    script = textwrap.dedent(f"""
        import asyncio, json
        from pathlib import Path
        from subkube.controlplane.controlplane import ControlPlane
        from subkube.controlplane.spec import ControlPlaneSpec

        async def main():
            cp = ControlPlane(ControlPlaneSpec(name="orphans", data_dir=Path({str(tmp_path)!r})
                                               / "cp", store="{{store}}", scheduler=True))
            await cp.start()
            Path({str(out)!r}).write_text(json.dumps({{p.name: p.pid for p in cp.processes}}))
            await asyncio.sleep(600)

        asyncio.run(main())
    """)
    for store in ("kine", "etcd"):
        out.unlink(missing_ok=True)
        parent = subprocess.Popen([sys.executable, "-c", script.replace("{store}", store)])
        try:
            deadline = time.monotonic() + 120
            while not out.exists() and time.monotonic() < deadline and parent.poll() is None:
                time.sleep(0.2)
            pids = json.loads(out.read_text())
            assert set(pids) == {
                store,
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
            }
        finally:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait()
        deadline = time.monotonic() + 15
        while any(pid_alive(p) for p in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [n for n, p in pids.items() if pid_alive(p)] == []
