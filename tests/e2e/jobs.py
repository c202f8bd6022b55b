"""Jobs of every kind, and what each must reach: on the local host directly and inside a
vcluster alike (`kubectl wait` behaves the same inside and out)."""

import json
from pathlib import Path
from typing import Any

from tests.conftest import kubectl, wait_for

MANIFEST = Path(__file__).parent / "manifests" / "jobs.yaml"
COMPLETE = ("plain", "indexed", "first-wins", "tolerant", "retried")


def pods(kubeconfig: Path, job: str) -> list[dict[str, Any]]:
    out = kubectl(kubeconfig, "get", "pods", "-l", f"job-name={job}", "-o", "json").stdout
    return list(json.loads(out)["items"])


def check(kubeconfig: Path) -> None:
    """After MANIFEST was applied in the default namespace of KUBECONFIG's cluster."""
    kubectl(
        kubeconfig,
        "wait",
        "--for=condition=complete",
        *(f"job/{j}" for j in COMPLETE),
        "--timeout=120s",
        timeout=150,
    )
    kubectl(kubeconfig, "wait", "--for=condition=failed", "job/doomed", "--timeout=120s")

    def job(name: str) -> dict[str, Any]:
        return dict(json.loads(kubectl(kubeconfig, "get", "job", name, "-o", "json").stdout))

    assert {p["spec"]["hostname"] for p in pods(kubeconfig, "indexed")} == {
        "indexed-0",
        "indexed-1",
        "indexed-2",
    }
    first_wins = job("first-wins")["status"]
    assert first_wins["succeeded"] == 1
    assert "SuccessCriteriaMet" in {c["type"] for c in first_wins["conditions"]}
    failed = [c for c in job("doomed")["status"]["conditions"] if c["type"] == "Failed"]
    assert failed[0]["reason"] == "PodFailurePolicy"
    [doomed] = pods(kubeconfig, "doomed")
    assert doomed["status"]["phase"] == "Failed"
    assert doomed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 42
    [retried] = pods(kubeconfig, "retried")
    status = retried["status"]["containerStatuses"][0]
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["terminated"]["exitCode"] == 0
    # The restarted container's logs, the current run's and the one before.
    current = kubectl(kubeconfig, "logs", "job/retried").stdout
    previous = kubectl(kubeconfig, "logs", "job/retried", "--previous").stdout
    assert current == "container main restarted (image busybox, restart 2)\n"
    assert previous == "container main restarted (image busybox, restart 1)\n"

    def tracked_to_the_end() -> bool:
        finished = [p for j in COMPLETE for p in pods(kubeconfig, j)]
        return all(
            p["status"]["phase"] == "Succeeded"
            and "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or [])
            for p in finished
        )

    wait_for("every pod of the complete Jobs Succeeded and untracked", tracked_to_the_end)
