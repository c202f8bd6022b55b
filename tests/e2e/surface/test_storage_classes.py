"""sync.toHost.storageClasses: a class the tenant makes inside reaches the host under its
prefixed name, a claim inside that uses it is provisioned by it on the host, and inside the
claim, and the volume shown for it, name the class as the tenant does."""

import pytest

from subkube.hostcluster.provisioner import PROVISIONER
from subkube.syncer import names
from tests.conftest import wait_for
from tests.e2e.surface.conftest import NS, VC, Lab

pytestmark = pytest.mark.e2e


def test_a_claim_of_the_tenants_class_is_provisioned_by_its_host_copy(lab: Lab) -> None:
    lab.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "tenant-fast"},
            # The local host's provisioner serves every class naming it.
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
    )
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "fast-data", "namespace": "default"},
            "spec": {
                "storageClassName": "tenant-fast",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )
    host_class = names.host_cluster_name("tenant-fast", NS, VC)
    copy = wait_for("the host class", lambda: lab.host_obj("storageclass", "tenant-fast"))
    assert copy["metadata"]["name"] == host_class
    assert copy["provisioner"] == PROVISIONER
    hclaim = wait_for("the host claim", lambda: lab.host_obj("pvc", "fast-data", "default"))
    assert hclaim["spec"]["storageClassName"] == host_class

    def bound() -> bool:
        phase = lab.v("get", "pvc", "fast-data", "-o", "jsonpath={.status.phase}").stdout
        return phase == "Bound"

    wait_for("the claim Bound inside", bound)
    claim = lab.v_json("get", "pvc", "fast-data")
    assert claim["spec"]["storageClassName"] == "tenant-fast"
    row = lab.v("get", "pvc", "fast-data", "--no-headers").stdout.split()
    assert "tenant-fast" in row, row
    assert host_class not in row
    volume = lab.v_json("get", "pv", claim["spec"]["volumeName"])
    assert volume["spec"]["storageClassName"] == "tenant-fast"
