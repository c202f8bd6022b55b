"""Prometheus metrics of the syncer: what every engine does, per kind."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

QUEUE_DEPTH = Gauge(
    "subkube_queue_depth",
    "Keys waiting in a kind's work queue",
    ["vcluster", "kind"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "subkube_reconcile_seconds",
    "Time to reconcile one key",
    ["vcluster", "kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "subkube_reconcile_errors_total",
    "Failed reconciles",
    ["vcluster", "kind", "error"],
    registry=REGISTRY,
)
OPERATIONS = Counter(
    "subkube_operations_total",
    "Writes made by the syncer",
    ["vcluster", "kind", "operation"],
    registry=REGISTRY,
)
SYNCED = Gauge(
    "subkube_synced_objects",
    "Host objects this vcluster owns, per kind",
    ["vcluster", "kind"],
    registry=REGISTRY,
)
