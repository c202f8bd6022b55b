from pathlib import Path

import pytest

from subkube.binaries import gobuild
from subkube.binaries.pins import KubernetesPin
from subkube.errors import SubkubeError

UPSTREAM = """module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
\tgithub.com/foo/bar v1.2.3
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""

PIN = KubernetesPin(version="v1.35.4", binaries=["kube-apiserver"])


def test_wrapper_gomod_replaces_each_staging_module_with_its_tag() -> None:
    gomod = gobuild.kubernetes_wrapper_gomod(PIN, UPSTREAM)
    assert "require k8s.io/kubernetes v1.35.4" in gomod
    for mod in ("k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go"):
        assert f"\t{mod} => {mod} v0.35.4" in gomod
    assert "./staging" not in gomod
    assert "go 1.25.0" in gomod
    assert "godebug default=go1.25" in gomod


def test_wrapper_gomod_refuses_a_gomod_without_staging() -> None:
    with pytest.raises(SubkubeError, match="staging"):
        gobuild.kubernetes_wrapper_gomod(PIN, "module k8s.io/kubernetes\n\ngo 1.25\n")


def test_ldflags_stamp_the_release_in_both_version_packages() -> None:
    flags = gobuild.kubernetes_ldflags(PIN)
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        assert f"-X '{pkg}.gitVersion=v1.35.4'" in flags
        assert f"-X '{pkg}.gitMinor=35'" in flags


def test_failure_explains_network_problems(tmp_path: Path) -> None:
    msg = gobuild._explain_failure(
        "k8s.io/kubernetes v1.35.4",
        [
            'go: k8s.io/api@v0.35.4: Get "https://proxy/k8s.io/api/@v/v0.35.4.mod": '
            "dial tcp: lookup proxy: no such host"
        ],
        tmp_path / "build.log",
    )
    assert "downloading Go modules" in msg
    assert "GOPROXY" in msg
    assert str(tmp_path / "build.log") in msg


def test_failure_explains_build_errors(tmp_path: Path) -> None:
    msg = gobuild._explain_failure("kine", ["# pkg", "x.go:1:1: syntax error"], tmp_path / "l")
    assert msg.startswith("go build of kine failed (x.go:1:1: syntax error)")


def test_missing_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SubkubeError, match=r"Go toolchain .* not on PATH"):
        gobuild.go_binary()


def test_kwok_stages_follow_the_kustomization_order(tmp_path: Path) -> None:
    for stage_set, files in {
        "node/fast": ["a.yaml"],
        "node/heartbeat-with-lease": ["b.yaml"],
        "pod/fast": ["c.yaml", "d.yaml"],
    }.items():
        base = tmp_path / "kustomize" / "stage" / stage_set
        base.mkdir(parents=True)
        (base / "kustomization.yaml").write_text(
            "resources:\n" + "".join(f"- {f}\n" for f in files)
        )
        for f in files:
            (base / f).write_text(f"kind: Stage\nmetadata:\n  name: {f}\n")
    text = gobuild.kwok_stages(tmp_path)
    assert [line.split(": ")[1] for line in text.splitlines() if "name:" in line] == [
        "a.yaml",
        "b.yaml",
        "c.yaml",
        "d.yaml",
    ]
    assert text.count("---") == 3


def test_kwok_crds_are_the_definitions_of_the_served_kinds(tmp_path: Path) -> None:
    base = tmp_path / "kustomize" / "crd" / "bases"
    base.mkdir(parents=True)
    for plural in gobuild.KWOK_CRDS.values():
        (base / f"kwok.x-k8s.io_{plural}.yaml").write_text(
            f"---\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.kwok.x-k8s.io\n"
        )
    text = gobuild.kwok_crds(tmp_path)
    names = [d.split("name: ")[1].strip() for d in text.split("---")]
    assert names == [f"{p}.kwok.x-k8s.io" for p in gobuild.KWOK_CRDS.values()]
    assert {"clusterlogs.kwok.x-k8s.io", "portforwards.kwok.x-k8s.io"} <= set(names)
    (base / "kwok.x-k8s.io_logs.yaml").unlink()
    with pytest.raises(SubkubeError, match=r"kwok\.x-k8s\.io_logs\.yaml"):
        gobuild.kwok_crds(tmp_path)


def test_a_wrapper_module_keeps_the_upstream_go_and_godebug_lines() -> None:
    gomod = gobuild.wrapper_gomod(
        "subkube.local/toolchain/kwok",
        "module sigs.k8s.io/kwok\n\ngo 1.26.0\n\ngodebug x509sha1=1\n",
        "sigs.k8s.io/kwok v0.8.0",
        ["sigs.k8s.io/kwok => ./kwok"],
    )
    assert gomod.startswith("module subkube.local/toolchain/kwok\n")
    assert "\ngo 1.26.0\n" in gomod
    assert "godebug x509sha1=1" in gomod
    assert "require sigs.k8s.io/kwok v0.8.0" in gomod
    assert "\tsigs.k8s.io/kwok => ./kwok\n" in gomod
