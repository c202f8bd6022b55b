"""Someone else on the host keeps editing a vcluster's synced objects: an admission policy,
a label-stamping controller, an operator by hand. The syncer puts back what is its own
(the tenant's labels, the Service's ports and selector, a ConfigMap's data) and leaves what
is not (labels and annotations it never set) alone, without a write of its own for each of
theirs."""

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subkube.syncer import names
from tests.conftest import kubectl, require_binary, wait_for
from tests.e2e.lab import HostLab

pytestmark = pytest.mark.e2e

NS, VC = "writers", "vw"
WORKLOAD = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: tenant}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: c
    image: nginx
    envFrom: [{configMapRef: {name: settings}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostLab]:
    with HostLab(tmp_path_factory.mktemp("writers")).running("writers", nodes=1) as lab:
        res = lab.cli("create", VC, "-n", NS, "--no-connect")
        assert res.returncode == 0, res.stdout + res.stderr
        lab.kc[VC] = Path(lab.cli("kubeconfig", VC, "-n", NS).stdout.strip())
        kubectl(lab.kc[VC], "apply", "-f", "-", stdin=WORKLOAD)
        wait_for(
            "the pod's host copy Running",
            lambda: host(lab, "pod", "app").get("status", {}).get("phase") == "Running",
        )
        yield lab


def host(lab: HostLab, kind: str, name: str) -> dict[str, Any]:
    found = lab.host("-n", NS, "get", kind, names.host_name(name, "default", VC), "-o", "json")
    return dict(json.loads(found.stdout))


def host_writes(lab: HostLab) -> int:
    """Every write the syncer has made (its metrics), all kinds together."""
    url = lab.daemon_state("vclusters", NS, VC)["metrics"]
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return int(
        sum(
            float(m.group(1))
            for m in re.finditer(r"^subkube_operations_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
        )
    )


def keep_patching(lab: HostLab, patches: list[tuple[str, str]], seconds: float) -> int:
    """Apply PATCHES ((kind, JSON merge patch) on the host copies) over and over for
    SECONDS, each with a new value where the patch says {n}; how many rounds."""
    argv = [str(require_binary("kubectl")), f"--kubeconfig={lab.host_kc}", "-n", NS]
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        for target, patch in patches:
            kind, name = target.split("/")
            subprocess.run(
                [
                    *argv,
                    "patch",
                    kind,
                    names.host_name(name, "default", VC),
                    "--type=merge",
                    "-p",
                    patch.replace("{n}", str(rounds)),
                ],
                capture_output=True,
                check=True,
                timeout=30,
            )
    return rounds


def test_what_is_not_ours_is_left_alone_without_a_write(lab: HostLab) -> None:
    before = host_writes(lab)
    rounds = keep_patching(
        lab,
        [
            ("pod/app", '{"metadata": {"labels": {"audit": "r{n}"}}}'),
            ("service/web", '{"metadata": {"annotations": {"mesh/revision": "{n}"}}}'),
            ("configmap/settings", '{"metadata": {"labels": {"backup": "r{n}"}}}'),
        ],
        seconds=8,
    )
    time.sleep(2)
    assert host(lab, "pod", "app")["metadata"]["labels"]["audit"] == f"r{rounds}"
    assert host(lab, "service", "web")["metadata"]["annotations"]["mesh/revision"] == str(rounds)
    assert host(lab, "configmap", "settings")["metadata"]["labels"]["backup"] == f"r{rounds}"
    assert host_writes(lab) == before, f"the syncer wrote while {rounds} rounds of edits ran"


def test_what_is_ours_is_put_back_each_time(lab: HostLab) -> None:
    keep_patching(
        lab,
        [
            ("pod/app", '{"metadata": {"labels": {"app": "hacked-{n}"}}}'),
            ("service/web", '{"spec": {"ports": [{"port": 81, "targetPort": {n}}]}}'),
            ("configmap/settings", '{"data": {"mode": "host-{n}"}}'),
        ],
        seconds=8,
    )

    def restored() -> bool:
        pod = host(lab, "pod", "app")["metadata"]["labels"]
        svc = host(lab, "service", "web")["spec"]["ports"]
        data = host(lab, "configmap", "settings")["data"]
        return (
            pod.get("app") == "web"
            and [(p["port"], p["targetPort"]) for p in svc] == [(80, 8080)]
            and data == {"mode": "tenant"}
        )

    wait_for("the host copies as the tenant made them", restored, 60)
    # The others' edits from the test before survive the repairs.
    assert "audit" in host(lab, "pod", "app")["metadata"]["labels"]
    # Inside, nothing of the host's edits shows.
    inside = json.loads(kubectl(lab.kc[VC], "get", "configmap", "settings", "-o", "json").stdout)
    assert inside["data"] == {"mode": "tenant"}
