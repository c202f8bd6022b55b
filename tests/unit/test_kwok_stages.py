"""kwok's default stages combined with subkube's own stages for the pods of Jobs."""

from importlib import resources

import pytest
import yaml

from subkube.controlplane import kwok
from subkube.errors import SubkubeError

DEFAULTS = """apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  next:
    statusTemplate: |
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec: {}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec: {}
"""


def job_stages() -> str:
    return resources.files("subkube.hostcluster").joinpath("job-stages.yaml").read_text()


def names(text: str) -> list[str]:
    return [d["metadata"]["name"] for d in yaml.safe_load_all(text) if d]


def test_subkube_stages_replace_kwoks_pod_complete() -> None:
    text = kwok.stage_config(DEFAULTS, job_stages())
    assert names(text) == ["pod-ready", "pod-delete", "pod-restart", "pod-complete"]
    complete = [d for d in yaml.safe_load_all(text) if d["metadata"]["name"] == "pod-complete"]
    assert (
        "pod-complete.stage.subkube.io/exit-code" in complete[0]["spec"]["next"]["statusTemplate"]
    )
    # Upstream documents keep their text (templates stay readable in the generated file).
    assert "    statusTemplate: |\n      phase: Running" in text


def test_a_kwok_without_pod_complete_is_refused() -> None:
    without = DEFAULTS.replace("name: pod-complete", "name: pod-finish")
    with pytest.raises(SubkubeError, match=r"lack pod-complete.*job-stages\.yaml"):
        kwok.stage_config(without, job_stages())


def test_job_stages_select_pods_of_jobs_and_of_synced_job_pods() -> None:
    for stage in yaml.safe_load_all(job_stages()):
        keys = [e["key"] for e in stage["spec"]["selector"]["matchExpressions"]]
        owner = [k for k in keys if "ownerReferences" in k]
        assert owner, stage["metadata"]["name"]
        assert 'annotations["subkube.io/object-owner-kind"]' in owner[0]
        delay = stage["spec"]["delay"]
        assert delay["durationMilliseconds"] <= 1000
        assert "pod-complete.stage.subkube.io/delay" in delay["durationFrom"]["expressionFrom"]
