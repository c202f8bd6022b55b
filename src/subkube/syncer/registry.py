"""Every kind the syncer can sync, declared once: the config flags that enable it, the
kind that runs it, when it starts, and what it needs on the host. The kinds a vcluster runs,
the supported set, the config check at create, describe's counts, the events filter, the
runner's host Role and the Helm chart's RBAC (generated from this file by subkube.chart) all
derive from it, so the rights a vcluster holds on its host are exactly what its kinds need.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from subkube.config.model import Sync
from subkube.kube.resource import (
    INGRESSCLASSES,
    PRIORITYCLASSES,
    RUNTIMECLASSES,
    STORAGECLASSES,
    Resource,
)
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.resources.configmaps.kind import ConfigMaps
from subkube.syncer.resources.endpoints.kind import Endpoints
from subkube.syncer.resources.events.kind import Events
from subkube.syncer.resources.hostclasses.kind import HostClasses
from subkube.syncer.resources.networkpolicies.kind import NetworkPolicies
from subkube.syncer.resources.nodes.kind import FakeNodes, HostNodes
from subkube.syncer.resources.persistentvolumeclaims.kind import PersistentVolumeClaims
from subkube.syncer.resources.pods.kind import Pods
from subkube.syncer.resources.secrets.kind import Secrets
from subkube.syncer.resources.services.kind import Services
from subkube.syncer.tohost import ToHost

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


# When a kind starts, after every kind of an earlier stage is running.
SERVICES_FIRST = 0  # the vcluster's DNS waits for its Service's host copy
BEFORE_PODS = 1  # what pods use (ConfigMaps, classes) and what protects them (policies)
PODS_STAGE = 2
AFTER_PODS = 3  # what follows pods: their nodes, their events


@dataclass(frozen=True)
class Declared:
    """FLAGS: the paths under `sync` that must all be on (a toggle's `enabled`, or a
    boolean; `!path` must be off); none for what the runner always needs. KIND(ctx, *ARGS)
    runs it (none for rights the runner itself needs). RULES hold in the host namespace,
    CLUSTER_RULES cluster-wide."""

    flags: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    cluster_rules: tuple[Rule, ...] = ()
    kind: type[Kind] | None = None
    args: tuple[Any, ...] = ()
    stage: int = BEFORE_PODS

    @property
    def name(self) -> str:
        return self.flags[-1] if self.flags else "runner"

    def make(self, ctx: SyncContext) -> Kind:
        assert self.kind is not None
        return self.kind(ctx, *self.args)

    @property
    def to_host_resource(self) -> Resource | None:
        """The resource a to-host kind copies (its host objects are this vcluster's)."""
        if self.kind is not None and issubclass(self.kind, ToHost):
            return self.kind.resource
        return None


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
        kind=Pods,
        stage=PODS_STAGE,
        rules=(
            _core(("pods",), SYNC),
            # Each pod's service-account tokens, minted inside, kept in one Secret.
            _core(("secrets",), ("get", "list", "watch", "create", "patch")),
            # The kubelet endpoint: logs, and exec/attach/port-forward (upgraded with POST
            # for SPDY, GET for WebSockets).
            _core(("pods/log",), ("get",)),
            _core(("pods/exec", "pods/attach", "pods/portforward"), ("get", "create")),
        ),
    ),
    Declared(
        ("toHost.services",),
        kind=Services,
        stage=SERVICES_FIRST,
        rules=(_core(("services",), SYNC),),
    ),
    Declared(("toHost.endpoints",), kind=Endpoints, rules=(_core(("endpoints",), SYNC),)),
    Declared(
        ("toHost.persistentVolumeClaims",),
        kind=PersistentVolumeClaims,
        rules=(_core(("persistentvolumeclaims",), SYNC),),
    ),
    Declared(("toHost.configMaps",), kind=ConfigMaps, rules=(_core(("configmaps",), SYNC),)),
    Declared(("toHost.secrets",), kind=Secrets, rules=(_core(("secrets",), SYNC),)),
    Declared(
        ("toHost.networkPolicies",),
        kind=NetworkPolicies,
        rules=(Rule("networking.k8s.io", ("networkpolicies",), SYNC),),
    ),
    Declared(
        ("fromHost.events",), kind=Events, stage=AFTER_PODS, rules=(_core(("events",), READ),)
    ),
    Declared(("toHost.pods", "!fromHost.nodes"), kind=FakeNodes, stage=AFTER_PODS),
    Declared(
        ("toHost.pods", "fromHost.nodes"),
        kind=HostNodes,
        stage=AFTER_PODS,
        # nodes/proxy: the kubelet endpoint's stats come from the host node's kubelet.
        cluster_rules=(_core(("nodes",), READ), _core(("nodes/proxy",), ("get",))),
    ),
    Declared(
        ("fromHost.nodes", "fromHost.nodes.syncBackChanges"),
        cluster_rules=(_core(("nodes",), ("patch",)),),
    ),
    Declared(
        ("fromHost.storageClasses",),
        kind=HostClasses,
        args=(STORAGECLASSES,),
        cluster_rules=(Rule("storage.k8s.io", ("storageclasses",), READ),),
    ),
    Declared(
        ("fromHost.ingressClasses",),
        kind=HostClasses,
        args=(INGRESSCLASSES,),
        cluster_rules=(Rule("networking.k8s.io", ("ingressclasses",), READ),),
    ),
    Declared(
        ("fromHost.priorityClasses",),
        kind=HostClasses,
        args=(PRIORITYCLASSES,),
        cluster_rules=(Rule("scheduling.k8s.io", ("priorityclasses",), READ),),
    ),
    Declared(
        ("fromHost.runtimeClasses",),
        kind=HostClasses,
        args=(RUNTIMECLASSES,),
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
    if flag.startswith("!"):
        return not flag_on(sync, flag[1:])
    node = flag_value(sync, flag)
    return bool(node.enabled if isinstance(node, BaseModel) else node)


def enabled(sync: Sync) -> list[Declared]:
    return [k for k in KINDS if all(flag_on(sync, f) for f in k.flags)]


def to_host_resources() -> list[Resource]:
    """What a vcluster can own on the host, by kind (describe's counts, cleanup checks)."""
    return [r for k in KINDS if (r := k.to_host_resource) is not None]


def supported(direction: str) -> set[str]:
    """The kinds of DIRECTION (toHost, fromHost) the syncer runs, by config name."""
    return {
        parts[1]
        for k in KINDS
        if k.kind is not None
        for flag in k.flags
        if (parts := flag.split("."))[0] == direction and len(parts) == 2
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
