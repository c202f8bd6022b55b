"""`host up --tuned` and the vcluster's own controller-manager: client limits raised where
upstream's defaults would be what a benchmark measures."""

from subkube.hostcluster import tuning
from subkube.runner.vcluster import VIRTUAL_CONTROLLER_MANAGER


def test_a_tuned_host_raises_its_clients_and_in_flight_limits() -> None:
    flags = tuning.flags(True)
    for component in ("kube-controller-manager", "kube-scheduler"):
        assert flags[component]["kube-api-qps"] == "400"
        assert flags[component]["kube-api-burst"] == "800"
    assert int(flags["kube-apiserver"]["max-requests-inflight"]) > 400
    # A copy: a caller adding flags changes nothing for the next host.
    flags["kube-scheduler"]["v"] = "4"
    assert "v" not in tuning.flags(True)["kube-scheduler"]


def test_an_untuned_host_keeps_upstream_defaults() -> None:
    assert tuning.flags(False) == {}


def test_the_tenants_controller_manager_is_not_held_to_20_requests_a_second() -> None:
    assert int(VIRTUAL_CONTROLLER_MANAGER["kube-api-qps"]) >= 400
