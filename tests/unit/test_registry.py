"""The registry of synced kinds: the supported set, and the host rights they need."""

from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.resource import CRDS
from subkube.kube.rest import Kube
from subkube.syncer import registry
from subkube.syncer.context import SyncContext
from subkube.syncer.manager import Manager
from subkube.syncer.registry import READ, SYNC
from subkube.syncer.resources.customresources.kind import DefinedOnHost
from subkube.syncer.tohost import ToHost

OPT_IN = [
    "toHost.networkPolicies",
    "toHost.ingresses",
    "toHost.serviceAccounts",
    "toHost.priorityClasses",
    "toHost.storageClasses",
    "toHost.persistentVolumes",
    "toHost.podDisruptionBudgets",
    "fromHost.nodes",
    "fromHost.storageClasses",
    "fromHost.ingressClasses",
    "fromHost.priorityClasses",
    "fromHost.runtimeClasses",
]


def sync_with(*flags: str, **extra: Any) -> Sync:
    data: dict[str, Any] = {}
    for flag in flags:
        direction, name = flag.split(".")
        data.setdefault(direction, {})[name] = {"enabled": True, **extra.get(name, {})}
    return Sync.model_validate(data)


def rules_as_tuples(
    rules: list[registry.Rule],
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(r.group, r.resources, r.verbs) for r in rules]


def test_the_default_role_is_only_what_the_default_kinds_need() -> None:
    namespaced, cluster = registry.host_rules(Sync())
    assert rules_as_tuples(namespaced) == [
        ("", ("services",), ("get", "create")),
        ("", ("serviceaccounts",), ("get", "create")),
        ("", ("secrets",), ("get", "create", "update")),
        ("", ("pods",), SYNC),
        ("", ("secrets",), ("get", "list", "watch", "create", "patch")),
        ("", ("pods/log",), ("get",)),
        ("", ("pods/exec", "pods/attach", "pods/portforward"), ("get", "create")),
        ("", ("services",), SYNC),
        ("", ("endpoints",), SYNC),
        ("", ("persistentvolumeclaims",), SYNC),
        ("", ("configmaps",), SYNC),
        ("", ("secrets",), SYNC),
        ("", ("events",), READ),
    ]
    assert cluster == [], "nothing cluster-wide by default"
    verbs = {v for r in namespaced for v in r.verbs}
    assert "update" not in {v for r in namespaced if r.resources != ("secrets",) for v in r.verbs}
    assert "*" not in verbs
    assert "deletecollection" not in verbs


@pytest.mark.parametrize("flag", OPT_IN)
def test_each_opt_in_kind_adds_exactly_its_rules(flag: str) -> None:
    base_ns, base_cluster = registry.host_rules(Sync())
    ns, cluster = registry.host_rules(sync_with(flag))
    added = [
        r
        for r in rules_as_tuples(ns) + rules_as_tuples(cluster)
        if r not in rules_as_tuples(base_ns) + rules_as_tuples(base_cluster)
    ]
    expected = {
        "toHost.networkPolicies": [("networking.k8s.io", ("networkpolicies",), SYNC)],
        "toHost.ingresses": [("networking.k8s.io", ("ingresses",), SYNC)],
        "toHost.serviceAccounts": [("", ("serviceaccounts",), SYNC)],
        "toHost.priorityClasses": [("scheduling.k8s.io", ("priorityclasses",), SYNC)],
        "toHost.storageClasses": [("storage.k8s.io", ("storageclasses",), SYNC)],
        "toHost.persistentVolumes": [("", ("persistentvolumes",), SYNC)],
        "toHost.podDisruptionBudgets": [("policy", ("poddisruptionbudgets",), SYNC)],
        "fromHost.nodes": [("", ("nodes",), READ), ("", ("nodes/proxy",), ("get",))],
        "fromHost.storageClasses": [("storage.k8s.io", ("storageclasses",), READ)],
        "fromHost.ingressClasses": [("networking.k8s.io", ("ingressclasses",), READ)],
        "fromHost.priorityClasses": [("scheduling.k8s.io", ("priorityclasses",), READ)],
        "fromHost.runtimeClasses": [("node.k8s.io", ("runtimeclasses",), READ)],
    }[flag]
    assert added == expected
    back = sync_with("fromHost.nodes", nodes={"syncBackChanges": True})
    assert ("", ("nodes",), ("patch",)) in rules_as_tuples(registry.host_rules(back)[1])


@pytest.mark.parametrize(
    "flag", ["toHost.priorityClasses", "toHost.storageClasses", "toHost.persistentVolumes"]
)
def test_cluster_scoped_copies_add_a_cluster_rule_and_nothing_in_the_namespace(flag: str) -> None:
    base_namespaced, _ = registry.host_rules(Sync())
    namespaced, cluster = registry.host_rules(sync_with(flag))
    assert namespaced == base_namespaced
    assert [r.verbs for r in cluster] == [SYNC]


def test_kinds_not_built_yet_are_refused_and_others_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert registry.unsupported(Sync()) == []
    # Every kind the config toggles, whichever are built by now: refused exactly when
    # unsupported.
    for direction in ("toHost", "fromHost"):
        section = getattr(Sync(), direction)
        for name in type(section).model_fields:
            if not hasattr(getattr(section, name), "enabled"):
                continue
            flag = f"{direction}.{name}"
            refused = [] if name in registry.supported(direction) else [f"sync.{flag}"]
            assert registry.unsupported(sync_with(flag)) == refused, flag
    # A kind with no entry in the registry is refused, even once every kind is built.
    monkeypatch.setattr(
        registry, "KINDS", tuple(k for k in registry.KINDS if k.flags != ("toHost.ingresses",))
    )
    assert registry.unsupported(sync_with("toHost.ingresses")) == ["sync.toHost.ingresses"]
    monkeypatch.undo()
    assert registry.supported("toHost") == {
        "pods",
        "services",
        "endpoints",
        "persistentVolumeClaims",
        "configMaps",
        "secrets",
        "networkPolicies",
        "ingresses",
        "serviceAccounts",
        "priorityClasses",
        "storageClasses",
        "persistentVolumes",
        "podDisruptionBudgets",
        "customResources",
    }
    assert "customResources" in registry.supported("fromHost")


@pytest.mark.parametrize("flags", [(), *((f,) for f in OPT_IN)])
def test_every_kind_the_syncer_runs_has_its_rights(flags: tuple[str, ...]) -> None:
    assert_rights(sync_with(*flags))


CUSTOM_RESOURCES: list[dict[str, Any]] = [
    {"toHost": {"customResources": {"widgets.example.com": {"enabled": True}}}},
    {
        "fromHost": {
            "customResources": {
                "gadgets.example.com": {
                    "enabled": True,
                    "scope": "Namespaced",
                    "namespace": "shared",
                    "selector": {"labels": {"tier": "shared"}},
                },
                "plans.billing.example.com": {"enabled": True, "scope": "Cluster"},
                "off.example.com": {"enabled": False, "scope": "Cluster"},
            }
        }
    },
]


@pytest.mark.parametrize("data", CUSTOM_RESOURCES)
def test_every_custom_resource_kind_has_its_rights(data: dict[str, Any]) -> None:
    assert_rights(Sync.model_validate(data))


def test_custom_resources_get_rules_by_name_for_their_group_and_plural() -> None:
    namespaced, cluster = registry.host_rules(Sync.model_validate(CUSTOM_RESOURCES[0]))
    assert rules_as_tuples(namespaced)[-1] == ("example.com", ("widgets",), SYNC)
    assert [r.as_dict() for r in cluster] == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["get"],
            "resourceNames": ["widgets.example.com"],
        }
    ]
    namespaced, cluster = registry.host_rules(Sync.model_validate(CUSTOM_RESOURCES[1]))
    base, _ = registry.host_rules(Sync())
    assert rules_as_tuples(namespaced) == [
        *rules_as_tuples(base),
        ("example.com", ("gadgets",), READ),
    ]
    assert cluster == [
        read_definition("gadgets.example.com"),
        registry.Rule("billing.example.com", ("plans",), READ),
        read_definition("plans.billing.example.com"),
    ]


def read_definition(name: str) -> registry.Rule:
    return registry.Rule(CRDS.group, (CRDS.plural,), ("get",), (name,))


def definition(name: str, scope: str) -> dict[str, Any]:
    """A host CRD as the kind of NAME reads it at start."""
    plural, _, group = name.partition(".")
    return {
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": plural, "kind": plural.title()},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def assert_rights(sync: Sync) -> None:
    """The rules and the syncer read the same flags: whatever a kind the syncer runs for a
    config reads on the host, that config's rules let it list and watch, in the host
    namespace or cluster-wide; and what a kind copies to the host, it may write."""

    class NoKubelets:
        address = "127.0.0.1"

        async def port(self, node: str) -> int:
            return 0

    ctx = SyncContext(
        vcluster="vc1",
        host_namespace="team-a",
        owner_service={"metadata": {"name": "vc1", "uid": "u"}},
        virtual=Kube(None),  # type: ignore[arg-type]
        host=Kube(None),  # type: ignore[arg-type]
        sync=sync,
        kubelets=NoKubelets(),
    )
    manager = Manager(ctx)
    for kind in manager.kinds:
        if isinstance(kind, DefinedOnHost):
            kind.define(definition(kind.crd_name, kind.scope))
        kind.watch()
    namespaced, cluster = registry.host_rules(sync)

    def granted(rules: list[registry.Rule]) -> dict[tuple[str, str], set[str]]:
        return {(r.group, res): set(r.verbs) for r in rules for res in r.resources}

    in_namespace, cluster_wide = granted(namespaced), granted(cluster)
    for informer in ctx.cache.informers():
        if informer.kube is not ctx.host:
            continue
        res = informer.resource
        rules = in_namespace if informer.namespace == "team-a" else cluster_wide
        assert set(READ) <= rules.get((res.group, res.plural), set()), informer.name
    for kind in manager.kinds:
        if isinstance(kind, ToHost):
            res = kind.resource
            rules = in_namespace if res.namespaced else cluster_wide
            assert set(SYNC) <= rules.get((res.group, res.plural), set()), res.plural
        if isinstance(kind, DefinedOnHost):
            # Its definition, read at start, by name.
            assert read_definition(kind.crd_name) in cluster, kind.crd_name
