"""Every kind the syncer can sync, declared once: the config flag that enables it and what
it needs on the host. The supported set, the config check at create, the runner's host
Role and the Helm chart's RBAC (generated from this file by subkube.chart) all
derive from it, so the rights a vcluster holds on its host are exactly what the kinds it
runs need.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from subkube.config.model import Sync

# Copying objects both ways: the engine reads through informers and writes with create,
# merge patches and deletes; it never replaces a host object whole.
SYNC = ("get", "list", "watch", "create", "patch", "delete")
READ = ("get", "list", "watch")


@dataclass(frozen=True)
class Rule:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


@dataclass(frozen=True)
class Declared:
    """FLAGS: the paths under `sync` that must all be on (a toggle's `enabled`, or a
    boolean); none for what the runner always needs. RULES hold in the host namespace,
    CLUSTER_RULES cluster-wide."""

    flags: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    cluster_rules: tuple[Rule, ...] = ()

    @property
    def name(self) -> str:
        return self.flags[-1] if self.flags else "runner"


def _core(resources: tuple[str, ...], verbs: tuple[str, ...]) -> Rule:
    return Rule("", resources, verbs)


KINDS: tuple[Declared, ...] = (
    Declared(
        (),
        rules=(
            # Its own Service (owner of every synced object) and workload ServiceAccount.
            _core(("services",), ("get", "create")),
            _core(("serviceaccounts",), ("get", "create")),
            # The admin kubeconfig it publishes as vc-NAME.
            _core(("secrets",), ("get", "create", "update")),
        ),
    ),
    Declared(
        ("toHost.pods",),
        rules=(
            _core(("pods",), SYNC),
            # Each pod's service-account tokens, minted inside, kept in one Secret.
            _core(("secrets",), ("get", "create", "patch")),
            # The kubelet endpoint: logs, and exec/attach/port-forward (upgraded with POST
            # for SPDY, GET for WebSockets).
            _core(("pods/log",), ("get",)),
            _core(("pods/exec", "pods/attach", "pods/portforward"), ("get", "create")),
        ),
    ),
    Declared(("toHost.services",), rules=(_core(("services",), SYNC),)),
    Declared(("toHost.endpoints",), rules=(_core(("endpoints",), SYNC),)),
    Declared(("toHost.persistentVolumeClaims",), rules=(_core(("persistentvolumeclaims",), SYNC),)),
    Declared(("toHost.configMaps",), rules=(_core(("configmaps",), SYNC),)),
    Declared(("toHost.secrets",), rules=(_core(("secrets",), SYNC),)),
    Declared(
        ("toHost.networkPolicies",),
        rules=(Rule("networking.k8s.io", ("networkpolicies",), SYNC),),
    ),
    Declared(("fromHost.events",), rules=(_core(("events",), READ),)),
    Declared(
        ("fromHost.nodes",),
        # nodes/proxy: the kubelet endpoint's stats come from the host node's kubelet.
        cluster_rules=(_core(("nodes",), READ), _core(("nodes/proxy",), ("get",))),
    ),
    Declared(
        ("fromHost.nodes", "fromHost.nodes.syncBackChanges"),
        cluster_rules=(_core(("nodes",), ("patch",)),),
    ),
    Declared(
        ("fromHost.storageClasses",),
        cluster_rules=(Rule("storage.k8s.io", ("storageclasses",), READ),),
    ),
    Declared(
        ("fromHost.ingressClasses",),
        cluster_rules=(Rule("networking.k8s.io", ("ingressclasses",), READ),),
    ),
    Declared(
        ("fromHost.priorityClasses",),
        cluster_rules=(Rule("scheduling.k8s.io", ("priorityclasses",), READ),),
    ),
    Declared(
        ("fromHost.runtimeClasses",),
        cluster_rules=(Rule("node.k8s.io", ("runtimeclasses",), READ),),
    ),
)


def flag_value(sync: Sync, flag: str) -> Any:
    """What FLAG names in SYNC: a toggle (a model with `enabled`) or a boolean."""
    node: Any = sync
    for part in flag.split("."):
        node = getattr(node, part)
    return node


def flag_on(sync: Sync, flag: str) -> bool:
    node = flag_value(sync, flag)
    return bool(node.enabled if isinstance(node, BaseModel) else node)


def enabled(sync: Sync) -> list[Declared]:
    return [k for k in KINDS if all(flag_on(sync, f) for f in k.flags)]


def supported(direction: str) -> set[str]:
    """The kinds of DIRECTION (toHost, fromHost) the syncer runs, by config name."""
    return {
        k.flags[0].split(".", 1)[1]
        for k in KINDS
        if k.flags and k.flags[0].startswith(direction + ".")
    }


def unsupported(sync: Sync) -> list[str]:
    """Kinds enabled in SYNC that the syncer cannot run (yet)."""
    out = []
    for direction in ("toHost", "fromHost"):
        section = getattr(sync, direction)
        for name in type(section).model_fields:
            if getattr(section, name).enabled and name not in supported(direction):
                out.append(f"sync.{direction}.{name}")
    return out


def host_rules(sync: Sync) -> tuple[list[Rule], list[Rule]]:
    """(rules in the host namespace, cluster-wide rules) the enabled kinds need."""
    kinds = enabled(sync)
    return (
        [r for k in kinds for r in k.rules],
        [r for k in kinds for r in k.cluster_rules],
    )
