"""ServiceAccount translate, with plain dicts."""

from subkube.syncer import names
from subkube.syncer.resources.serviceaccounts import translate as serviceaccounts

OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "o"}
KW = {"vcluster": "vc1", "host_namespace": "team-a", "owner": OWNER}


def vsa(**extra: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "builder",
            "namespace": "demo",
            "uid": "sa-uid",
            "annotations": {
                "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/builder",
                "iam.gke.io/gcp-service-account": "builder@proj.iam.gserviceaccount.com",
                "kubernetes.io/enforce-mountable-secrets": "true",
            },
        },
        "secrets": [{"name": "builder-token-abcde"}],
        "imagePullSecrets": [{"name": "regcred"}],
        **extra,
    }


def test_host_copy_keeps_cloud_identity_and_mounts_no_host_token() -> None:
    h = serviceaccounts.to_host(vsa(automountServiceAccountToken=True), **KW)
    assert h["metadata"]["name"] == "builder-x-demo-x-vc1"
    assert h["metadata"]["namespace"] == "team-a"
    annotations = h["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::111122223333:role/builder"
    assert annotations["iam.gke.io/gcp-service-account"] == "builder@proj.iam.gserviceaccount.com"
    assert annotations[names.ANNOTATION_KIND] == "ServiceAccount"
    assert "kubernetes.io/enforce-mountable-secrets" not in annotations
    assert h["automountServiceAccountToken"] is False
    assert h["imagePullSecrets"] == [{"name": "regcred-x-demo-x-vc1"}]
    assert "secrets" not in h


def test_a_service_account_without_pull_secrets() -> None:
    v = vsa()
    del v["imagePullSecrets"]
    assert "imagePullSecrets" not in serviceaccounts.to_host(v, **KW)


def test_update_follows_pull_secrets_and_puts_automount_back() -> None:
    desired = serviceaccounts.to_host(vsa(), **KW)
    assert serviceaccounts.host_spec_update(desired, desired) is None
    actual = {**desired, "automountServiceAccountToken": True, "imagePullSecrets": [{"name": "x"}]}
    assert serviceaccounts.host_spec_update(desired, actual) == {
        "automountServiceAccountToken": False,
        "imagePullSecrets": [{"name": "regcred-x-demo-x-vc1"}],
    }
    v = vsa()
    del v["imagePullSecrets"]
    assert serviceaccounts.host_spec_update(serviceaccounts.to_host(v, **KW), desired) == {
        "imagePullSecrets": None
    }
