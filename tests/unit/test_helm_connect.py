"""How the CLI reaches a vcluster that runs on the host: the published kubeconfig, its local
rewrite, and the forwarder's rule for when to stop."""

import json
import os
from pathlib import Path

import yaml

from subkube.lifecycle import forwarder, helm
from subkube.runner import hostside

ADMIN = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:39000"}}],
        "users": [{"name": "u", "user": {"client-certificate-data": "x"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
)


def test_the_published_kubeconfig_names_the_pods_api_port_and_keeps_credentials() -> None:
    published = yaml.safe_load(hostside.published_kubeconfig(ADMIN))
    assert published["clusters"][0]["cluster"]["server"] == "https://localhost:8443"
    assert published["users"][0]["user"] == {"client-certificate-data": "x"}
    local = helm.local_kubeconfig(hostside.published_kubeconfig(ADMIN), 41000)
    assert local["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:41000"


def test_a_forwarder_stops_once_its_vcluster_no_longer_names_it(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert not forwarder.still_wanted(state)
    state.write_text(json.dumps({"forwarder_pid": os.getpid()}))
    assert forwarder.still_wanted(state)
    state.write_text(json.dumps({"forwarder_pid": os.getpid() + 1}))
    assert not forwarder.still_wanted(state)
    state.write_text("{broken")
    assert not forwarder.still_wanted(state)
