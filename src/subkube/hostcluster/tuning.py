"""`subkube host up --tuned`: a local host that keeps up with a benchmark.

Upstream's defaults throttle the host's own clients (the controller-manager at 20 requests
per second, the scheduler at 50) and its API server's concurrency; a benchmark of the
syncer would then measure them instead. These are the values large installs run with
(client QPS 400 and burst 800, as large vCluster installs set theirs); kwok's client is
unthrottled already. The benchmarks print them with their figures.
"""

CLIENT = {"kube-api-qps": "400", "kube-api-burst": "800"}

TUNED: dict[str, dict[str, str]] = {
    "kube-apiserver": {"max-requests-inflight": "1600", "max-mutating-requests-inflight": "800"},
    "kube-controller-manager": {
        **CLIENT,
        # Deployments and ReplicaSets are what the benchmarks create pods with.
        "concurrent-deployment-syncs": "20",
        "concurrent-replicaset-syncs": "20",
    },
    "kube-scheduler": dict(CLIENT),
}


def flags(tuned: bool) -> dict[str, dict[str, str]]:
    """Extra flags per component: TUNED's, or none."""
    return {component: dict(values) for component, values in TUNED.items()} if tuned else {}
