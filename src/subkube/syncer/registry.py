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
from subkube.errors import SubkubeError
from subkube.kube.resource import (
    CRDS,
    INGRESSCLASSES,
    PRIORITYCLASSES,
    RUNTIMECLASSES,
    STORAGECLASSES,
    Resource,
)
from subkube.syncer.context import SyncContext
from subkube.syncer.engine import Kind
from subkube.syncer.resources.configmaps.kind import ConfigMaps
from subkube.syncer.resources.customresources.kind import (
    CustomResourcesFromHost,
    CustomResourcesToHost,
)
from subkube.syncer.resources.endpoints.kind import Endpoints
from subkube.syncer.resources.events.kind import Events
from subkube.syncer.resources.hostclasses.kind import HostClasses
from subkube.syncer.resources.ingresses.kind import Ingresses
from subkube.syncer.resources.networkpolicies.kind import NetworkPolicies
from subkube.syncer.resources.nodes.kind import FakeNodes, HostNodes
from subkube.syncer.resources.persistentvolumeclaims.kind import PersistentVolumeClaims
from subkube.syncer.resources.persistentvolumes.kind import PersistentVolumes
from subkube.syncer.resources.poddisruptionbudgets.kind import PodDisruptionBudgets
from subkube.syncer.resources.pods.kind import Pods
from subkube.syncer.resources.priorityclasses.kind import PriorityClasses
from subkube.syncer.resources.secrets.kind import Secrets
from subkube.syncer.resources.serviceaccounts.kind import ServiceAccounts
from subkube.syncer.resources.services.kind import Services
from subkube.syncer.resources.storageclasses.kind import StorageClasses
from subkube.syncer.tohost import ToHost

# Copying objects both ways: the engine reads through informers and writes with create,
# merge patches and deletes; it never replaces a host object whole.
SYNC = ("get", "list", "watch", "create", "patch", "delete")
READ = ("get", "list", "watch")


# In the rules of a declaration made per config entry (see Declared.each), what the entry's
# key ("<plural>.<group>", a CRD's name) fills in.
ENTRY_PLURAL, ENTRY_GROUP, ENTRY_NAME = "<plural>", "<group>", "<name>"


@dataclass(frozen=True)
class Rule:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        return out

    def for_entry(self, key: str) -> "Rule":
        plural, _, group = key.partition(".")
        fill = {ENTRY_PLURAL: plural, ENTRY_GROUP: group, ENTRY_NAME: key}
        return Rule(
            fill.get(self.group, self.group),
            tuple(fill.get(r, r) for r in self.resources),
            self.verbs,
            tuple(fill.get(n, n) for n in self.resource_names),
        )


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
    CLUSTER_RULES cluster-wide. TAKES_OVER: controllers of the virtual controller-manager
    that must not run beside the kind (they would write what it copies back).

    EACH: the path under `sync` of a map (custom resources by CRD name) whose enabled
    entries with the field values of WHERE each get a kind, KIND(ctx, *ARGS, key, entry),
    and the rules, with ENTRY_* filled from the key."""

    flags: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    cluster_rules: tuple[Rule, ...] = ()
    kind: type[Kind] | None = None
    args: tuple[Any, ...] = ()
    stage: int = BEFORE_PODS
    takes_over: tuple[str, ...] = ()
    each: str = ""
    where: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.each or (self.flags[-1] if self.flags else "runner")

    def entries(self, sync: Sync) -> list[tuple[str, Any]]:
        """(key, entry) of the map entries this declaration is made for, by key."""
        if not self.each:
            return []
        found: dict[str, Any] = flag_value(sync, self.each)
        return [
            (key, entry)
            for key, entry in sorted(found.items())
            if entry.enabled and all(getattr(entry, f) == v for f, v in self.where)
        ]

    def make(self, ctx: SyncContext) -> list[Kind]:
        assert self.kind is not None
        if not self.each:
            return [self.kind(ctx, *self.args)]
        return [self.kind(ctx, *self.args, key, entry) for key, entry in self.entries(ctx.sync)]

    def host_rules(self, sync: Sync) -> tuple[list[Rule], list[Rule]]:
        """(rules in the host namespace, cluster-wide rules) for SYNC."""
        if not self.each:
            return list(self.rules), list(self.cluster_rules)
        entries = self.entries(sync)
        return (
            [r.for_entry(key) for key, _ in entries for r in self.rules],
            [r.for_entry(key) for key, _ in entries for r in self.cluster_rules],
        )

    @property
    def to_host_resource(self) -> Resource | None:
        """The resource a to-host kind copies (its host objects are this vcluster's); per
        entry kinds know theirs only once they run."""
        if self.kind is not None and issubclass(self.kind, ToHost) and not self.each:
            return self.kind.resource
        return None


def _core(resources: tuple[str, ...], verbs: tuple[str, ...]) -> Rule:
    return Rule("", resources, verbs)


# A custom resource's definition, read by name alone: no other CRD of the host is visible.
_DEFINITION = Rule(CRDS.group, (CRDS.plural,), ("get",), (ENTRY_NAME,))


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
    # The host's ingress controller writes the status; the syncer only reads it.
    Declared(
        ("toHost.ingresses",),
        kind=Ingresses,
        rules=(Rule("networking.k8s.io", ("ingresses",), SYNC),),
    ),
    # Before pods: a pod runs as the host copy of its ServiceAccount.
    Declared(
        ("toHost.serviceAccounts",),
        kind=ServiceAccounts,
        rules=(_core(("serviceaccounts",), SYNC),),
    ),
    Declared(
        ("toHost.podDisruptionBudgets",),
        kind=PodDisruptionBudgets,
        rules=(Rule("policy", ("poddisruptionbudgets",), SYNC),),
        # The host's disruption controller writes the status that comes back.
        takes_over=("disruption-controller",),
    ),
    # Cluster-scoped copies, named and labelled by syncer/clusterscoped.py; `subkube delete`
    # removes them, as nothing on the host collects them.
    # Before pods: the host's admission refuses a pod whose class has no copy yet.
    Declared(
        ("toHost.priorityClasses",),
        kind=PriorityClasses,
        cluster_rules=(Rule("scheduling.k8s.io", ("priorityclasses",), SYNC),),
    ),
    Declared(
        ("toHost.storageClasses",),
        kind=StorageClasses,
        cluster_rules=(Rule("storage.k8s.io", ("storageclasses",), SYNC),),
    ),
    Declared(
        ("toHost.persistentVolumes",),
        kind=PersistentVolumes,
        cluster_rules=(_core(("persistentvolumes",), SYNC),),
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
    # Custom resources, one kind per configured CRD. Its definition is read from the host
    # (never written there); before pods, as pods may use what their operators make.
    Declared(
        (),
        each="toHost.customResources",
        kind=CustomResourcesToHost,
        rules=(Rule(ENTRY_GROUP, (ENTRY_PLURAL,), SYNC),),
        cluster_rules=(_DEFINITION,),
    ),
    Declared(
        (),
        each="fromHost.customResources",
        where=(("scope", "Namespaced"),),
        kind=CustomResourcesFromHost,
        rules=(Rule(ENTRY_GROUP, (ENTRY_PLURAL,), READ),),
        cluster_rules=(_DEFINITION,),
    ),
    Declared(
        (),
        each="fromHost.customResources",
        where=(("scope", "Cluster"),),
        kind=CustomResourcesFromHost,
        cluster_rules=(Rule(ENTRY_GROUP, (ENTRY_PLURAL,), READ), _DEFINITION),
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


def to_host_resources(sync: Sync | None = None) -> list[Resource]:
    """What a vcluster can own on the host, by kind (describe's counts, cleanup checks);
    with SYNC, what it copies there with that config."""
    kinds = KINDS if sync is None else enabled(sync)
    return [r for k in kinds if (r := k.to_host_resource) is not None]


def supported(direction: str) -> set[str]:
    """The kinds of DIRECTION (toHost, fromHost) the syncer runs, by config name."""
    return {
        parts[1]
        for k in KINDS
        if k.kind is not None
        for flag in (*k.flags, k.each)
        if (parts := flag.split("."))[0] == direction and len(parts) == 2
    }


def unsupported(sync: Sync) -> list[str]:
    """Kinds enabled in SYNC that the syncer cannot run (yet)."""
    out = []
    for direction in ("toHost", "fromHost"):
        section = getattr(sync, direction)
        for name in type(section).model_fields:
            node = getattr(section, name)
            # A map of entries (custom resources) is on when any entry is.
            on = any(e.enabled for e in node.values()) if isinstance(node, dict) else node.enabled
            if on and name not in supported(direction):
                out.append(f"sync.{direction}.{name}")
    return out


def check_supported(sync: Sync) -> None:
    """Refuse, before anything starts, what the syncer cannot do yet."""
    missing = unsupported(sync)
    if missing:
        raise SubkubeError(f"{', '.join(missing)}: not supported yet; disable it")


def taken_over(sync: Sync) -> list[str]:
    """Controllers the virtual controller-manager must not run, for the kinds SYNC enables."""
    return [c for k in enabled(sync) for c in k.takes_over]


def host_rules(sync: Sync) -> tuple[list[Rule], list[Rule]]:
    """(rules in the host namespace, cluster-wide rules) the enabled kinds need."""
    rules = [k.host_rules(sync) for k in enabled(sync)]
    return (
        [r for namespaced, _ in rules for r in namespaced],
        [r for _, cluster in rules for r in cluster],
    )
