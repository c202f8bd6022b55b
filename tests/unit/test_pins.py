from subkube.binaries.catalog import specs
from subkube.binaries.pins import KubernetesPin, load_pins


def test_pins_load_and_cover_every_binary() -> None:
    pins = load_pins()
    names = {s.name for s in specs(pins)}
    assert names == {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kine",
        "kwok",
        "etcd",
        "etcdctl",
        "etcdutl",
        "versitygw",
        "kubectl",
        "helm",
    }
    major, minor, _ = pins.kubernetes.version.lstrip("v").split(".")
    assert (int(major), int(minor)) >= (1, 33)


def test_staging_version_maps_v1_to_v0() -> None:
    pin = KubernetesPin(version="v1.35.4", binaries=["kube-apiserver"])
    assert pin.staging_version == "v0.35.4"
