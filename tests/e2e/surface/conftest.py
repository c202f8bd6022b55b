"""One local host and one vcluster with every opt-in kind of the sync surface enabled,
shared by the tests of this package: each part of the surface through a real host object
and real kubectl inside."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from subkube.syncer import names
from tests.conftest import kubectl, subkube
from tests.e2e.lab import HostLab

HOST, NS, VC = "surface", "team-s", "vs"
# Each test module of this package enables what it tests here.
CONFIG: dict[str, Any] = {
    "sync": {
        "toHost": {
            "pods": {
                "translateImage": {
                    "docker.io/library/": "mirror.local/library/",
                    "ghcr.io/acme/tool": "mirror.local/acme/tool",
                },
                "enforceTolerations": [
                    "dedicated=tenants:NoSchedule",
                    {"key": "spot", "operator": "Exists", "effect": "NoExecute"},
                ],
            },
            "ingresses": {"enabled": True},
            "serviceAccounts": {"enabled": True},
            "podDisruptionBudgets": {"enabled": True},
            "priorityClasses": {"enabled": True},
            "storageClasses": {"enabled": True},
            "persistentVolumes": {"enabled": True},
        },
        "fromHost": {
            "runtimeClasses": {"enabled": True},
        },
    },
}


# Host objects a test module needs before the vcluster starts (the CRDs of the custom
# resources it syncs, which the vcluster checks at create): applied right after `host up`.
HOST_MANIFESTS: list[dict[str, Any]] = []


class Lab(HostLab):
    def v(self, *args: str, **kw: Any) -> Any:
        return kubectl(self.kc[VC], *args, **kw)

    def v_json(self, *args: str) -> Any:
        return json.loads(self.v(*args, "-o", "json").stdout)

    def apply(self, obj: dict[str, Any]) -> None:
        self.v("apply", "-f", "-", stdin=json.dumps(obj))

    def host_obj(self, kind: str, name: str, namespace: str | None = None) -> Any:
        """The host copy of the virtual object NAMESPACE/NAME (None: not there)."""
        args = ["-n", NS] if namespace is not None else []
        host_name = (
            names.host_name(name, namespace, VC)
            if namespace is not None
            else names.host_cluster_name(name, NS, VC)
        )
        found = self.host(*args, "get", kind, host_name, "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else None


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("surface")
    lab = Lab(root)
    env = {"SUBKUBE_STATE_DIR": str(lab.state)}
    up = subkube("host", "up", "--name", HOST, "--nodes", "2", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    lab.host_kc = Path(subkube("host", "kubeconfig", "--name", HOST, env=env).stdout.strip())
    values = root / "values.yaml"
    values.write_text(yaml.safe_dump(CONFIG))
    try:
        if HOST_MANIFESTS:
            items = {"apiVersion": "v1", "kind": "List", "items": HOST_MANIFESTS}
            lab.host("apply", "-f", "-", stdin=json.dumps(items))
            crds = [
                f"crd/{m['metadata']['name']}"
                for m in HOST_MANIFESTS
                if m["kind"] == "CustomResourceDefinition"
            ]
            if crds:
                lab.host("wait", "--for=condition=Established", *crds)
        res = lab.cli("create", VC, "-n", NS, "--no-connect", "-f", str(values))
        assert res.returncode == 0, res.stdout + res.stderr
        lab.kc[VC] = Path(lab.cli("kubeconfig", VC, "-n", NS).stdout.strip())
        yield lab
    finally:
        lab.cli("delete", VC, "-n", NS)
        subkube("host", "down", "--name", HOST, "--purge", env=env)
