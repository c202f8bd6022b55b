"""The registry of synced kinds: the supported set, and the host rights they need."""

from typing import Any

import pytest

from subkube.config.model import Sync
from subkube.kube.rest import Kube
from subkube.syncer import registry
from subkube.syncer.context import SyncContext
from subkube.syncer.manager import Manager
from subkube.syncer.registry import READ, SYNC
from subkube.syncer.tohost import ToHost

OPT_IN = [
    "toHost.networkPolicies",
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
        "fromHost.nodes": [("", ("nodes",), READ), ("", ("nodes/proxy",), ("get",))],
        "fromHost.storageClasses": [("storage.k8s.io", ("storageclasses",), READ)],
        "fromHost.ingressClasses": [("networking.k8s.io", ("ingressclasses",), READ)],
        "fromHost.priorityClasses": [("scheduling.k8s.io", ("priorityclasses",), READ)],
        "fromHost.runtimeClasses": [("node.k8s.io", ("runtimeclasses",), READ)],
    }[flag]
    assert added == expected
    back = sync_with("fromHost.nodes", nodes={"syncBackChanges": True})
    assert ("", ("nodes",), ("patch",)) in rules_as_tuples(registry.host_rules(back)[1])


def test_kinds_not_built_yet_are_refused_and_others_are_not() -> None:
    assert registry.unsupported(Sync()) == []
    assert registry.unsupported(sync_with("toHost.ingresses")) == ["sync.toHost.ingresses"]
    assert registry.supported("toHost") == {
        "pods",
        "services",
        "endpoints",
        "persistentVolumeClaims",
        "configMaps",
        "secrets",
        "networkPolicies",
    }


@pytest.mark.parametrize("flags", [(), *((f,) for f in OPT_IN)])
def test_every_kind_the_syncer_runs_has_its_rights(flags: tuple[str, ...]) -> None:
    """The rules and the syncer read the same flags: whatever a kind the syncer runs for a
    config reads on the host, that config's rules let it list and watch, in the host
    namespace or cluster-wide; and what a kind copies to the host, it may write."""
    sync = sync_with(*flags)

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
            assert set(SYNC) <= in_namespace.get((res.group, res.plural), set()), res.plural
