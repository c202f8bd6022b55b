"""The optional pod rewrites (images, tolerations, ServiceAccounts, PriorityClasses,
RuntimeClasses) and their config, with plain dicts."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from subkube.config.model import Config, PodSync, Toleration
from subkube.syncer import names
from subkube.syncer.resources.pods import translate
from subkube.syncer.resources.pods.translate import translate_image

CTX = translate.PodContext(
    vcluster="vc1",
    host_namespace="team-a",
    owner={"apiVersion": "v1", "kind": "Service", "name": "vc1", "uid": "owner-uid"},
    api_service_ip="10.96.0.10",
    dns_service_ip="10.96.0.53",
    workload_service_account="vc-workload-vc1",
)


def ctx(**changes: object) -> translate.PodContext:
    return dataclasses.replace(CTX, **changes)


def vpod(**spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "demo", "uid": "pod-uid"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


# translateImage

RULES = {"docker.io/library/": "mirror.local/lib/", "nginx": "mirror/nginx"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", "mirror/nginx"),
        ("nginx:1.27", "mirror/nginx:1.27"),
        ("nginx@sha256:abc", "mirror/nginx@sha256:abc"),
        ("nginx:1.27@sha256:abc", "mirror/nginx:1.27@sha256:abc"),
        # Not the same repository: the prefix must end at a boundary.
        ("nginx-ingress:1", "mirror.local/lib/nginx-ingress:1"),
        # A short name is matched as written first, then fully qualified.
        ("redis:7", "mirror.local/lib/redis:7"),
        ("docker.io/library/nginx:1", "mirror.local/lib/nginx:1"),
        ("bitnami/redis:7", "bitnami/redis:7"),
        ("quay.io/nginx/nginx:1", "quay.io/nginx/nginx:1"),
    ],
)
def test_translate_image_examples(image: str, expected: str) -> None:
    assert translate_image(image, RULES) == expected


def test_translate_image_boundaries() -> None:
    # A `:` with a `/` after it is a registry's port, not a tag.
    assert translate_image("localhost:5000/app:1", {"localhost": "x"}) == "localhost:5000/app:1"
    assert translate_image("localhost:5000/app:1", {"localhost:5000": "r.io"}) == "r.io/app:1"
    # A tag is not a prefix of a longer tag; vCluster's exact rules keep working.
    assert translate_image("nginx:1.25", {"nginx:1": "x"}) == "nginx:1.25"
    assert translate_image("nginx:1.25", {"nginx:1.25": "mirror/nginx:1.26"}) == "mirror/nginx:1.26"
    # Registry prefixes, with or without the slash.
    assert translate_image("gcr.io/a/b:1", {"gcr.io": "m.io/gcr"}) == "m.io/gcr/a/b:1"
    assert translate_image("gcr.io/a/b:1", {"gcr.io/": "m.io/gcr/"}) == "m.io/gcr/a/b:1"
    assert translate_image("gcr.io2/a:1", {"gcr.io": "m.io"}) == "gcr.io2/a:1"
    assert translate_image("nginx:1", {}) == "nginx:1"


segment = st.text("abc123", min_size=1, max_size=4)


@given(
    path=st.lists(segment, min_size=1, max_size=4),
    tag=st.one_of(st.none(), segment),
    picks=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=5),
)
def test_translate_image_longest_prefix_wins(
    path: list[str], tag: str | None, picks: list[int]
) -> None:
    image = "r.io/" + "/".join(path) + (f":{tag}" if tag else "")
    # Every prefix that ends at a boundary, with and without a trailing slash.
    boundaries = [image[:i] for i in range(1, len(image)) if image[i] in "/:"] + [image]
    boundaries += [b + "/" for b in boundaries if image.startswith(b + "/")]
    keys = {boundaries[p % len(boundaries)] for p in picks}
    rules = {k: f"m{len(k)}.io" for k in keys}
    # Noise: prefixes cut inside a segment (the next character continues the name).
    rules.update(
        {
            image[:i]: "wrong"
            for i in range(1, len(image))
            if image[i] not in "/:" and image[i - 1] != "/"
        }
    )
    best = max(keys, key=len)
    assert translate_image(image, rules) == rules[best] + image[len(best) :]


@given(image=st.from_regex(r"r\.io/[a-z]{1,6}(:[0-9]{1,3})?", fullmatch=True))
def test_translate_image_without_a_matching_rule_is_unchanged(image: str) -> None:
    assert translate_image(image, {"r.io/zzzzzzz": "x", "other.io": "y", "r.i": "z"}) == image


def test_every_container_group_gets_translated_images() -> None:
    pod = vpod(
        initContainers=[{"name": "init", "image": "busybox"}],
        ephemeralContainers=[{"name": "debug", "image": "docker.io/library/busybox:1"}],
    )
    spec = translate.to_host(pod, ctx(translate_image=RULES))["spec"]
    assert spec["containers"][0]["image"] == "mirror/nginx:1.27"
    assert spec["initContainers"][0]["image"] == "mirror.local/lib/busybox"
    assert spec["ephemeralContainers"][0]["image"] == "mirror.local/lib/busybox:1"
    assert translate.to_host(pod, CTX)["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_a_running_pod_keeps_its_translated_image() -> None:
    desired = translate.to_host(vpod(), ctx(translate_image=RULES))
    assert translate.host_spec_update(desired, desired) is None


# enforceTolerations

ENFORCED = [
    {"key": "tenant", "operator": "Equal", "value": "a", "effect": "NoSchedule"},
    {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
]


def test_enforced_tolerations_are_added_once() -> None:
    own = [
        {"key": "tenant", "value": "a", "effect": "NoSchedule"},  # operator defaults to Equal
        {"key": "gpu", "operator": "Exists"},
    ]
    spec = translate.to_host(vpod(tolerations=own), ctx(enforce_tolerations=ENFORCED))["spec"]
    assert spec["tolerations"] == [*own, ENFORCED[1]]
    spec = translate.to_host(vpod(), ctx(enforce_tolerations=ENFORCED + ENFORCED))["spec"]
    assert spec["tolerations"] == ENFORCED
    assert "tolerations" not in translate.to_host(vpod(), CTX)["spec"]


def test_enforced_tolerations_cause_no_update_of_a_running_pod() -> None:
    desired = translate.to_host(vpod(), ctx(enforce_tolerations=ENFORCED))
    assert translate.host_spec_update(desired, desired) is None


# ServiceAccounts

TOKEN_VOLUME = {
    "name": "kube-api-access",
    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
}


def test_the_pod_runs_as_the_host_copy_of_its_own_service_account() -> None:
    pod = vpod(serviceAccountName="builder", volumes=[TOKEN_VOLUME])
    host = translate.to_host(pod, ctx(service_accounts=True))
    spec = host["spec"]
    assert spec["serviceAccountName"] == "builder-x-demo-x-vc1"
    assert spec["automountServiceAccountToken"] is False
    # The tenant still reads the virtual name, and tokens still come from inside.
    assert host["metadata"]["annotations"][translate.SERVICE_ACCOUNT_ANNOTATION] == "builder"
    assert "secret" in spec["volumes"][0]["projected"]["sources"][0]
    default = translate.to_host(vpod(), ctx(service_accounts=True))["spec"]
    assert default["serviceAccountName"] == "default-x-demo-x-vc1"
    old_field = translate.to_host(vpod(serviceAccount="old"), ctx(service_accounts=True))["spec"]
    assert old_field["serviceAccountName"] == "old-x-demo-x-vc1"
    assert "serviceAccount" not in old_field
    off = translate.to_host(pod, CTX)["spec"]
    assert off["serviceAccountName"] == "vc-workload-vc1"


# PriorityClasses


def test_priority_class_becomes_the_host_copy_of_the_tenants() -> None:
    pod = vpod(priorityClassName="high", priority=1000, preemptionPolicy="Never")
    spec = translate.to_host(pod, ctx(priority_classes=True))["spec"]
    assert spec["priorityClassName"] == names.host_cluster_name("high", "team-a", "vc1")
    assert spec["priorityClassName"] == "subkube-high-x-team-a-x-vc1"
    assert "priority" not in spec
    assert "preemptionPolicy" not in spec


def test_system_priority_classes_never_reach_the_host() -> None:
    """Inside they are the tenant's to use; on the host they would outrank every workload."""
    for name in ("system-cluster-critical", "system-node-critical"):
        pod = vpod(priorityClassName=name, priority=2000000000)
        spec = translate.to_host(pod, ctx(priority_classes=True))["spec"]
        assert "priorityClassName" not in spec
        assert "priority" not in spec


def test_priority_class_kept_from_host_or_dropped() -> None:
    pod = vpod(priorityClassName="high", priority=1000)
    kept = translate.to_host(pod, ctx(keep_priority_class=True))["spec"]
    assert kept["priorityClassName"] == "high"
    assert "priority" not in kept
    dropped = translate.to_host(pod, CTX)["spec"]
    assert "priorityClassName" not in dropped
    assert "priority" not in dropped
    assert "priorityClassName" not in translate.to_host(vpod(), ctx(priority_classes=True))["spec"]


# RuntimeClasses


def runtime_class(name: str, handler: str) -> dict:
    return {"apiVersion": "node.k8s.io/v1", "metadata": {"name": name}, "handler": handler}


def test_host_runtime_class_matches_the_handler() -> None:
    host = [runtime_class("kata", "kata-qemu"), runtime_class("sandbox", "runsc")]
    assert translate.host_runtime_class(runtime_class("gvisor", "runsc"), host) == "sandbox"
    assert translate.host_runtime_class(runtime_class("wasm", "spin"), host) is None
    assert translate.host_runtime_class(None, host) is None
    assert translate.host_runtime_class(runtime_class("gvisor", "runsc"), []) is None
    both = [*host, runtime_class("gvisor", "runsc"), runtime_class("a", "runsc")]
    assert translate.host_runtime_class(runtime_class("gvisor", "runsc"), both) == "gvisor"
    assert translate.host_runtime_class(runtime_class("other", "runsc"), both) == "a"


def test_runtime_class_name_is_mapped_and_overhead_left_to_the_host() -> None:
    pod = vpod(runtimeClassName="gvisor", overhead={"cpu": "250m"})
    spec = translate.to_host(pod, ctx(runtime_class_names={"gvisor": "sandbox"}))["spec"]
    assert spec["runtimeClassName"] == "sandbox"
    assert "overhead" not in spec
    unknown = translate.to_host(pod, ctx(runtime_class_names={"kata": "kata"}))["spec"]
    assert unknown["runtimeClassName"] == "gvisor"
    assert "runtimeClassName" not in translate.to_host(vpod(), CTX)["spec"]


# Config


def test_pod_sync_config_defaults_and_strings() -> None:
    pods = Config().sync.toHost.pods
    assert pods.enabled
    assert pods.translateImage == {}
    assert pods.enforceTolerations == []
    pods = PodSync.model_validate(
        {
            "translateImage": RULES,
            "enforceTolerations": [
                "*",
                "dedicated",
                "tenant=a",
                "gpu:NoSchedule",
                "tenant=a:NoExecute",
                {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
            ],
        }
    )
    assert [t.as_dict() for t in pods.enforceTolerations] == [
        {"operator": "Exists"},
        {"operator": "Equal", "key": "dedicated"},
        {"operator": "Equal", "key": "tenant", "value": "a"},
        {"operator": "Exists", "key": "gpu", "effect": "NoSchedule"},
        {"operator": "Equal", "key": "tenant", "value": "a", "effect": "NoExecute"},
        {"operator": "Exists", "key": "x", "effect": "NoExecute", "tolerationSeconds": 5},
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "a:Exists",
        "a:b:NoSchedule",
        "a=b=c",
        "a:",
        {"operator": "Equal", "value": "x"},
        {"key": "a", "operator": "Exists", "value": "v"},
        {"key": "a", "effect": "NoSchedule", "tolerationSeconds": 3},
        {"key": "a", "operator": "In"},
    ],
)
def test_bad_tolerations_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        PodSync.model_validate({"enforceTolerations": [bad]})


def test_empty_image_rules_are_refused() -> None:
    with pytest.raises(ValidationError):
        PodSync.model_validate({"translateImage": {"nginx": ""}})


def test_toleration_round_trips_through_its_pod_form() -> None:
    t = Toleration.parse("tenant=a:NoSchedule")
    assert Toleration.model_validate(t.as_dict()) == t
