"""subkube.yaml (and the Helm chart's values.yaml): the same schema, as pydantic models.

Field names follow what users know from vCluster's config (sync.toHost.pods.enabled, …);
defaults follow its behaviour (see shared/reference/vcluster-facts.md). Field names are the
users' camelCase on purpose: the models are the file format.
"""

import copy
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from subkube.config.schedule import check_schedule, check_timezone, parse_duration


def _optional_duration(value: str) -> str:
    if value:
        parse_duration(value)
    return value


# A duration such as 30m, or "" for none.
OptionalDuration = Annotated[str, AfterValidator(_optional_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_default=True, defer_build=True
    )


class Toggle(Strict):
    enabled: bool = False


class On(Strict):
    enabled: bool = True


class ReferencedToggle(Strict):
    enabled: bool = True
    all: bool = Field(False, description="Sync every object, not only those pods use.")


class Toleration(Strict):
    """A Kubernetes toleration, added to every host pod."""

    key: str = Field("", description="Empty: every taint key (operator Exists).")
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        "", description="Empty: every effect."
    )
    tolerationSeconds: int | None = Field(None, description="Only with effect NoExecute.")

    @model_validator(mode="after")
    def _valid(self) -> "Toleration":
        # The host's API server refuses these; say so when the config is read, not per pod.
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration without a key needs operator Exists")
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.tolerationSeconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds needs effect NoExecute")
        return self

    @classmethod
    def parse(cls, text: str) -> "Toleration":
        """vCluster's string form: `*`, `key`, `key=value`, `key:Effect` (Exists) or
        `key=value:Effect` (Equal)."""
        if text == "*":
            return cls(operator="Exists")
        head, colon, effect = text.partition(":")
        key, equals, value = head.partition("=")
        if ":" in effect or "=" in value or (colon and not effect):
            raise ValueError(
                f"invalid toleration {text!r}: use key, key=value, key:Effect, "
                "key=value:Effect or *"
            )
        operator = "Exists" if colon and not equals else "Equal"
        return cls.model_validate(
            {"key": key, "operator": operator, "value": value, "effect": effect}
        )

    def as_dict(self) -> dict[str, str | int]:
        """As in a pod spec: the operator always, other fields only when set."""
        out: dict[str, str | int] = {"operator": self.operator}
        for name in ("key", "value", "effect"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.tolerationSeconds is not None:
            out["tolerationSeconds"] = self.tolerationSeconds
        return out


class PodSync(On):
    translateImage: dict[str, str] = Field(
        default_factory=dict,
        description='Image prefix -> replacement, e.g. {"docker.io/library/": "mirror.local/"}; '
        "the longest matching prefix wins.",
    )
    enforceTolerations: list[Toleration] = Field(
        default_factory=list,
        description='Added to every host pod; objects or strings like "key=value:NoSchedule".',
    )

    @field_validator("translateImage")
    @classmethod
    def _no_empty_images(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not k or not v for k, v in value.items()):
            raise ValueError("translateImage needs a non-empty prefix and replacement")
        return value

    @field_validator(
        "enforceTolerations", mode="before", json_schema_input_type=list[Toleration | str]
    )
    @classmethod
    def _strings_too(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        return [Toleration.parse(t) if isinstance(t, str) else t for t in value]


# A CustomResourceDefinition's name, `<plural>.<group>`: the group holds at least one dot.
_CRD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A Secret's name (RFC 1123 subdomain, at most 253 characters).
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _crd_names(entries: dict[str, Toggle]) -> dict[str, Toggle]:
    for name in entries:
        if not _CRD_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a CustomResourceDefinition name: use <plural>.<group>, "
                "e.g. widgets.example.com"
            )
    return entries


class ToHostCustomResource(Toggle):
    """Tenant objects of a custom resource, copied to the host namespace for the host's
    operator; their status flows back inside."""

    scope: Literal["Namespaced", "Cluster"] = Field(
        "Namespaced",
        description="Must match the host's CRD. Only Namespaced: a cluster-scoped copy would "
        "need cluster-wide write rights on the host and outlive the vcluster's namespace.",
    )

    @model_validator(mode="after")
    def _namespaced(self) -> "ToHostCustomResource":
        if self.scope == "Cluster":
            raise ValueError(
                "only namespaced custom resources sync to the host (cluster-scoped copies "
                "would need cluster-wide write rights there); use sync.fromHost.customResources "
                "to show cluster-scoped host objects inside"
            )
        return self


class PriorityClassSync(Toggle):
    maxValue: int | None = Field(
        None,
        le=1_000_000_000,
        description="The highest value a tenant PriorityClass has on the host (a higher one is "
        "lowered to it), so tenant pods never preempt host workloads above it. Unset: any "
        "value up to 1000000000, the highest the API server allows a non-system class.",
    )


class LabelSelector(Strict):
    labels: dict[str, str] = Field(
        default_factory=dict, description="Only host objects with all these labels."
    )


class FromHostCustomResource(Toggle):
    """Host objects of a custom resource shown inside, read-only, status included."""

    scope: Literal["Namespaced", "Cluster"] = Field(description="Must match the host's CRD.")
    selector: LabelSelector = LabelSelector()
    namespace: str = Field(
        "",
        description="Namespaced scope only, and then required: the virtual namespace (made if "
        "missing) where the selected objects of the vcluster's own host namespace appear, under "
        'their names (vCluster\'s mappings.byName {"": "<namespace>/*"}). No other host '
        "namespace is read, so the vcluster's rights there stay in its namespace.",
    )

    @model_validator(mode="after")
    def _namespace_for_namespaced(self) -> "FromHostCustomResource":
        if self.scope == "Cluster" and self.namespace:
            raise ValueError("namespace is for scope Namespaced; a Cluster one has none")
        if self.scope == "Namespaced" and not _DNS_LABEL.match(self.namespace):
            raise ValueError(
                "scope Namespaced needs namespace: the virtual namespace (a DNS label) where "
                "the host namespace's objects appear"
            )
        return self


class ToHost(Strict):
    pods: PodSync = PodSync()
    services: On = On()
    endpoints: On = On()
    persistentVolumeClaims: On = On()
    configMaps: ReferencedToggle = ReferencedToggle()
    secrets: ReferencedToggle = ReferencedToggle()
    ingresses: Toggle = Toggle()
    networkPolicies: Toggle = Toggle()
    serviceAccounts: Toggle = Toggle()
    priorityClasses: PriorityClassSync = PriorityClassSync()
    podDisruptionBudgets: Toggle = Toggle()
    persistentVolumes: Toggle = Toggle()
    storageClasses: Toggle = Toggle()
    customResources: dict[str, ToHostCustomResource] = Field(
        default_factory=dict,
        description="By CRD name (<plural>.<group>). The CRD comes from the host, where its "
        "operator runs, and is copied inside at start; subkube never installs one on the host.",
    )

    _crd_names = field_validator("customResources")(_crd_names)


class NodeSelector(Strict):
    all: bool = Field(False, description="All host nodes, not only those running tenant pods.")
    labels: dict[str, str] = Field(default_factory=dict)


class NodeSync(Strict):
    enabled: bool = Field(False, description="Real node objects instead of fake ones.")
    selector: NodeSelector = NodeSelector()
    syncBackChanges: bool = False


class FromHost(Strict):
    events: On = On()
    storageClasses: Toggle = Toggle()
    ingressClasses: Toggle = Toggle()
    priorityClasses: Toggle = Toggle()
    runtimeClasses: Toggle = Toggle()
    nodes: NodeSync = NodeSync()
    customResources: dict[str, FromHostCustomResource] = Field(
        default_factory=dict,
        description="By CRD name (<plural>.<group>). The CRD comes from the host and is "
        "copied inside at start; a tenant's edit of a copy is put back.",
    )

    _crd_names = field_validator("customResources")(_crd_names)


class Sync(Strict):
    toHost: ToHost = ToHost()
    fromHost: FromHost = FromHost()

    @model_validator(mode="after")
    def _one_direction(self) -> "Sync":
        both = [
            name
            for name in FromHost.model_fields
            if name in ToHost.model_fields
            and name != "customResources"
            and getattr(self.toHost, name).enabled
            and getattr(self.fromHost, name).enabled
        ]
        both += [
            f"customResources.{name}"
            for name, entry in self.toHost.customResources.items()
            if entry.enabled
            and name in self.fromHost.customResources
            and self.fromHost.customResources[name].enabled
        ]
        if both:
            raise ValueError(
                f"{', '.join(both)} cannot be synced in both directions: enable "
                f"sync.toHost.{both[0]} or sync.fromHost.{both[0]}, not both"
            )
        return self


class Embedded(Toggle):
    pass


# The schemes kine (the pinned version) has a driver for.
KINE_SCHEMES = ("postgres", "postgresql", "mysql", "sqlite", "nats", "http", "https")


class ExternalDatabase(Toggle):
    # repr=False: a config printed while debugging must not show the password.
    dataSource: str = Field("", description="e.g. postgres://user:pass@host:5432/db", repr=False)

    @field_validator("dataSource")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme, sep, _ = value.partition("://")
        if value and (not sep or scheme.lower() not in KINE_SCHEMES):
            # Only the scheme is quoted back: the rest may hold a password.
            got = f"{scheme}://" if sep else "no scheme://"
            raise ValueError(
                f"must start with one of {', '.join(s + '://' for s in KINE_SCHEMES)} (got {got})"
            )
        return value


class ExternalEtcd(Toggle):
    endpoint: str = ""
    caFile: str = ""
    certFile: str = ""
    keyFile: str = ""


class Database(Strict):
    embedded: Embedded = Embedded()
    external: ExternalDatabase = ExternalDatabase()


def redact_datasource(datasource: str) -> str:
    """DATASOURCE with its password replaced by ***, for anything a person or a log reads:
    URL user info (postgres://user:pw@host/db, mysql://user:pw@tcp(host)/db) and a
    password=… query parameter."""
    scheme, sep, rest = datasource.partition("://")
    if not sep:
        return datasource
    query = rest.find("?")
    # The last @ before the query: a password may hold an unescaped @ or /.
    at = rest.rfind("@", 0, len(rest) if query < 0 else query)
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    return f"{scheme}://" + re.sub(r"([?&]password=)[^&]*", r"\1***", rest, flags=re.IGNORECASE)


def redacted(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of config VALUES (as in config.json or Helm values) fit to show: the external
    database's datasource without its password."""
    out = copy.deepcopy(values)
    external: Any = out
    for key in ("controlPlane", "backingStore", "database", "external"):
        external = external.get(key) if isinstance(external, dict) else None
    if isinstance(external, dict) and isinstance(external.get("dataSource"), str):
        external["dataSource"] = redact_datasource(external["dataSource"])
    return out


class Etcd(Strict):
    embedded: Embedded = Embedded()
    external: ExternalEtcd = ExternalEtcd()


class BackingStore(Strict):
    database: Database = Database()
    etcd: Etcd = Etcd()

    @model_validator(mode="after")
    def _at_most_one(self) -> "BackingStore":
        chosen = self.chosen_all()
        if len(chosen) > 1:
            raise ValueError(f"choose one backing store, not {' and '.join(chosen)}")
        if self.database.external.enabled and not self.database.external.dataSource:
            raise ValueError("database.external needs a dataSource")
        if self.etcd.external.enabled and not self.etcd.external.endpoint:
            raise ValueError("etcd.external needs an endpoint")
        return self

    def chosen_all(self) -> list[str]:
        return [
            f"{group}.{kind}"
            for group in ("database", "etcd")
            for kind in ("embedded", "external")
            if getattr(getattr(self, group), kind).enabled
        ]

    @property
    def chosen(self) -> str:
        """database.embedded (kine + SQLite) unless something else is enabled."""
        found = self.chosen_all()
        return found[0] if found else "database.embedded"


class Component(Strict):
    extraArgs: list[str] = Field(default_factory=list, description='Extra flags, e.g. "--v=4".')

    @model_validator(mode="after")
    def _flags(self) -> "Component":
        for arg in self.extraArgs:
            if not arg.startswith("--"):
                raise ValueError(f"extraArgs entries look like --flag=value, not {arg!r}")
        return self

    def as_dict(self) -> dict[str, str]:
        out = {}
        for arg in self.extraArgs:
            key, _, value = arg[2:].partition("=")
            out[key] = value or "true"
        return out


class Image(Strict):
    repository: str = "subkube/subkube"
    tag: str = Field("", description="Empty: the chart's appVersion.")
    pullPolicy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class Persistence(Strict):
    enabled: bool = True
    size: str = "5Gi"
    storageClass: str = Field("", description="Empty: the host's default StorageClass.")


class StatefulSet(Strict):
    """How the Helm chart runs the vcluster on a real host (ignored by --driver local)."""

    image: Image = Image()
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "200m", "memory": "512Mi"},
            # A CPU limit too: with policies.resourceQuota on, the namespace's quota counts
            # limits.cpu, and a pod without one would be refused, the vcluster's own included.
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
    )
    persistence: Persistence = Persistence()
    nodeSelector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, str]] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)


class VirtualScheduler(Toggle):
    """A kube-scheduler inside the vcluster: pods are placed on the node copies there (and
    tenants may run schedulers of their own); the host only binds them."""


class Certificates(Strict):
    leafLifetime: str = Field(
        "8760h",
        description="How long leaf certificates are valid (a duration such as 8760h or 2m); "
        "the runner renews them when 80% of it is spent.",
    )

    @field_validator("leafLifetime")
    @classmethod
    def _duration(cls, value: str) -> str:
        # Shorter, the runner would do little but restart its controller-manager.
        if parse_duration(value).total_seconds() < 60:
            raise ValueError(f"{value!r} is too short; at least 1m")
        return value


class Advanced(Strict):
    virtualScheduler: VirtualScheduler = VirtualScheduler()
    certificates: Certificates = Certificates()
    hostUnreachableGrace: OptionalDuration = Field(
        "5m",
        description="Stop the runner once the host API has not answered for this long (a "
        "duration such as 5m); empty: wait for ever. It stops at once when its host "
        "namespace is deleted.",
    )

    @property
    def host_grace(self) -> float | None:
        """hostUnreachableGrace in seconds; None: never."""
        grace = self.hostUnreachableGrace
        return parse_duration(grace).total_seconds() if grace else None


class HighAvailability(Strict):
    replicas: int = Field(
        1,
        ge=1,
        le=7,
        description="Chart only: runner pods, each with an API server and, with the embedded "
        "etcd, a member of a cluster across them; one syncs at a time (a Lease elects it). "
        "Use an odd number: etcd needs a majority.",
    )


class ControlPlane(Strict):
    backingStore: BackingStore = BackingStore()
    highAvailability: HighAvailability = HighAvailability()
    apiServer: Component = Component()
    controllerManager: Component = Component()
    statefulSet: StatefulSet = StatefulSet()
    advanced: Advanced = Advanced()


class Networking(Strict):
    serviceCIDR: str = Field("", description="Empty: discover the host's.")
    clusterDomain: str = "cluster.local"


class ResourceQuota(Toggle):
    quota: dict[str, str | int] = Field(
        default_factory=lambda: {
            "requests.cpu": 10,
            "requests.memory": "20Gi",
            "limits.cpu": 20,
            "limits.memory": "40Gi",
            "pods": 50,
            "services": 20,
            "persistentvolumeclaims": 20,
        }
    )


class LimitRange(Toggle):
    default: dict[str, str] = Field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})
    defaultRequest: dict[str, str] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "128Mi"}
    )


class Policies(Strict):
    podSecurityStandard: Literal["privileged", "baseline", "restricted"] = Field(
        "baseline",
        description="Enforced on every tenant pod by the syncer and the host namespace, and "
        "at admission inside; privileged lets tenants reach the host's nodes.",
    )

    @field_validator("podSecurityStandard", mode="before")
    @classmethod
    def _unset_is_default(cls, value: object) -> object:
        # Files written when the default was "" (nothing enforced) get today's default.
        return "baseline" if value == "" else value

    resourceQuota: ResourceQuota = ResourceQuota()
    limitRange: LimitRange = LimitRange()
    networkPolicy: Toggle = Toggle()


class Schedule(Strict):
    schedule: str = Field("", description='Cron, e.g. "0 20 * * 1-5"; empty: never.')
    timezone: str = Field("UTC", description="IANA zone the schedule is read in.")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value:
            check_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_timezone(value)
        return value


class AutoSleep(Schedule):
    afterInactivity: OptionalDuration = Field(
        "", description="Sleep after this long without a tenant API request (e.g. 30m)."
    )


class SleepMode(Strict):
    autoSleep: AutoSleep = AutoSleep()
    autoWakeup: Schedule = Schedule()
    keepWorkloads: bool = Field(
        False, description="Leave the tenant's pods on the host while the vcluster sleeps."
    )


class Snapshots(Schedule):
    to: str = Field(
        "", description="Where scheduled snapshots go: file:///dir or s3://bucket/prefix."
    )
    keep: int = Field(7, ge=1, description="How many scheduled snapshots to keep.")
    credentialsSecret: str = Field(
        "",
        description="Chart only: a Secret in the vcluster's namespace whose keys become the "
        "runner's environment, for an s3:// destination: AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, and optionally AWS_ENDPOINT_URL_S3 and AWS_REGION. A local "
        "driver's runner has the environment of the command that started it (create, "
        "resume, restore).",
    )

    @field_validator("credentialsSecret")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if value and (len(value) > 253 or not _DNS_SUBDOMAIN.match(value)):
            raise ValueError(f"{value!r} is not a Secret name (lowercase, digits, '-' and '.')")
        return value

    @model_validator(mode="after")
    def _needs_destination(self) -> "Snapshots":
        if self.schedule and not self.to:
            raise ValueError("snapshots.schedule needs snapshots.to (file:///dir or s3://bucket)")
        return self


class Config(Strict):
    sync: Sync = Sync()
    controlPlane: ControlPlane = ControlPlane()
    networking: Networking = Networking()
    policies: Policies = Policies()
    sleepMode: SleepMode = SleepMode()
    snapshots: Snapshots = Snapshots()

    @model_validator(mode="after")
    def _scheduler_needs_nodes(self) -> "Config":
        if (
            self.controlPlane.advanced.virtualScheduler.enabled
            and not self.sync.fromHost.nodes.enabled
        ):
            raise ValueError(
                "controlPlane.advanced.virtualScheduler needs the real host nodes inside: "
                "enable sync.fromHost.nodes too"
            )
        return self

    @model_validator(mode="after")
    def _replicas_share_a_store(self) -> "Config":
        plane = self.controlPlane
        if not self.highly_available:
            return self
        if plane.backingStore.database.embedded.enabled:
            raise ValueError(
                "controlPlane.highAvailability needs a store the replicas share: leave "
                "backingStore unset (embedded etcd), or choose etcd or database.external"
            )
        embedded_etcd = plane.backingStore.chosen_all() in ([], ["etcd.embedded"])
        if embedded_etcd and not plane.statefulSet.persistence.enabled:
            # A member that comes back without its data cannot rejoin its etcd cluster.
            raise ValueError(
                "controlPlane.highAvailability needs controlPlane.statefulSet.persistence"
            )
        if self.sleepMode.autoSleep.schedule or self.sleepMode.autoSleep.afterInactivity:
            raise ValueError("sleepMode.autoSleep is not available with highAvailability")
        return self

    @property
    def highly_available(self) -> bool:
        return self.controlPlane.highAvailability.replicas > 1
