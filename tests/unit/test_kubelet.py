"""The runner's kubelet endpoint: which calls it serves, where they go, what stats show."""

import pytest

from subkube.runner.kubelet import routes, stats
from subkube.syncer import names

VC = "vc1"
HNS = "team-a"


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/containerLogs/demo/web-1/nginx", routes.Call("containerLogs", "demo", "web-1", "nginx")),
        ("/exec/demo/web-1/nginx", routes.Call("exec", "demo", "web-1", "nginx")),
        (
            "/exec/demo/web-1/0a1b-2c/nginx",
            routes.Call("exec", "demo", "web-1", "nginx", "0a1b-2c"),
        ),
        ("/attach/demo/web-1/nginx", routes.Call("attach", "demo", "web-1", "nginx")),
        ("/portForward/demo/web-1", routes.Call("portForward", "demo", "web-1")),
        ("/portForward/demo/web-1/abc", routes.Call("portForward", "demo", "web-1", uid="abc")),
        ("/stats/summary", routes.Call("stats/summary")),
        ("/metrics/resource", routes.Call("metrics/resource")),
        ("/healthz", routes.Call("healthz")),
    ],
)
def test_served_calls(path: str, call: routes.Call) -> None:
    assert routes.parse(path) == call


@pytest.mark.parametrize(
    "path",
    [
        "/pods",
        "/configz",
        "/run/demo/web-1/nginx",
        "/metrics",
        "/metrics/cadvisor",
        "/stats/container",
        "/logs/",
        "/debug/pprof/",
        "/containerLogs/demo/web-1",
        "/containerLogs/demo/../nginx",
        "/exec/demo/web-1%2F..%2F..%2Fx/nginx",
        "/exec/Demo/web/c",
        "/portForward/demo",
    ],
)
def test_everything_else_is_refused(path: str) -> None:
    assert routes.parse(path) is None


def test_queries_are_renamed_for_the_host_and_nothing_else_passes() -> None:
    logs = routes.Call("containerLogs", "demo", "web-1", "nginx")
    query = [
        ("follow", "true"),
        ("tailLines", "5"),
        ("sinceSeconds", "60"),
        ("timestamps", "true"),
        ("limitBytes", "100"),
        ("previous", "true"),
        ("sinceTime", "2026-01-01T00:00:00Z"),
        ("insecureSkipTLSVerifyBackend", "true"),
    ]
    assert routes.host_query(logs, query) == [("container", "nginx"), *query[:-1]]
    assert routes.host_path(logs, HNS, "web-1-x-demo-x-vc1") == (
        "/api/v1/namespaces/team-a/pods/web-1-x-demo-x-vc1/log"
    )
    execute = routes.Call("exec", "demo", "web-1", "nginx")
    assert routes.host_query(
        execute,
        [("command", "sh"), ("command", "-c"), ("input", "1"), ("output", "1"), ("tty", "0")],
    ) == [
        ("container", "nginx"),
        ("command", "sh"),
        ("command", "-c"),
        ("stdin", "true"),
        ("stdout", "true"),
        ("tty", "false"),
    ]
    forward = routes.Call("portForward", "demo", "web-1")
    assert routes.host_query(forward, [("port", "80"), ("command", "x")]) == [("ports", "80")]
    assert routes.host_path(forward, HNS, "p").endswith("/pods/p/portforward")


def test_only_the_protocol_headers_cross() -> None:
    headers = [
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"SPDY/3.1"),
        (b"X-Stream-Protocol-Version", b"v4.channel.k8s.io"),
        (b"X-Stream-Protocol-Version", b"v3.channel.k8s.io"),
        (b"Authorization", b"Bearer secret"),
        (b"Impersonate-User", b"admin"),
    ]
    assert routes.pass_headers(headers, routes.UPGRADE_REQUEST_HEADERS) == headers[:4]


def host_pod(name: str, ns: str, node: str, vcluster: str = VC, uid: str = "u1") -> dict:
    return {
        "metadata": {
            "name": names.host_name(name, ns, vcluster),
            "namespace": HNS,
            "labels": {names.LABEL_MANAGED_BY: vcluster, names.LABEL_NAMESPACE: ns},
            "annotations": {
                names.ANNOTATION_NAME: name,
                names.ANNOTATION_NAMESPACE: ns,
                names.ANNOTATION_UID: uid,
                names.ANNOTATION_KIND: "Pod",
            },
        },
        "spec": {"nodeName": node},
        "status": {
            "startTime": "2026-01-01T00:00:00Z",
            "containerStatuses": [
                {"name": "c", "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}}
            ],
        },
    }


def tenant_on(node: str, pods: list[dict]) -> stats.TenantPods:
    return stats.TenantPods.of(pods, host_namespace=HNS, vcluster=VC, node=node)


def test_a_summary_shows_only_the_tenants_pods_under_virtual_names() -> None:
    mine = host_pod("web", "demo", "n1", uid="v-uid")
    theirs = host_pod("web", "demo", "n1", vcluster="vc2")
    elsewhere = host_pod("db", "demo", "n2")
    tenant = tenant_on("n1", [mine, theirs, elsewhere])
    summary = {
        "node": {"nodeName": "n1", "cpu": {"usageNanoCores": 5}},
        "pods": [
            {
                "podRef": {"name": mine["metadata"]["name"], "namespace": HNS, "uid": "h"},
                "cpu": {"usageNanoCores": 1},
            },
            {"podRef": {"name": theirs["metadata"]["name"], "namespace": HNS, "uid": "h2"}},
            {"podRef": {"name": mine["metadata"]["name"], "namespace": "kube-system"}},
            {"podRef": {"name": "etcd-0", "namespace": "kube-system", "uid": "h3"}},
        ],
    }
    out = stats.filter_summary(summary, tenant)
    assert out["node"] == summary["node"]
    assert out["pods"] == [
        {
            "podRef": {"name": "web", "namespace": "demo", "uid": "v-uid"},
            "cpu": {"usageNanoCores": 1},
        }
    ]


def test_a_summary_is_made_from_the_pods_when_the_host_has_none() -> None:
    pods = [host_pod("web", "demo", "n1", uid="v-uid"), host_pod("web", "demo", "n1", "vc2")]
    out = stats.summary_from_pods("n1", pods, tenant_on("n1", pods))
    assert out == {
        "node": {"nodeName": "n1"},
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "demo", "uid": "v-uid"},
                "containers": [{"name": "c", "startTime": "2026-01-01T00:00:01Z"}],
                "startTime": "2026-01-01T00:00:00Z",
            }
        ],
    }


def test_resource_metrics_keep_node_series_and_rename_the_tenants() -> None:
    mine = host_pod("web", "demo", "n1")
    hname = mine["metadata"]["name"]
    text = f"""# HELP container_cpu_usage_seconds_total Cumulative cpu time
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{{container="c",namespace="{HNS}",pod="{hname}"}} 1.5 1700000000000
container_cpu_usage_seconds_total{{container="c",namespace="{HNS}",pod="other-x-a-x-vc2"}} 2.5
container_cpu_usage_seconds_total{{container="c",namespace="kube-system",pod="{hname}"}} 3.5
# HELP node_memory_working_set_bytes Current working set of the node
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.2e+09
"""
    out = stats.filter_metrics(text, tenant_on("n1", [mine]))
    assert 'container_cpu_usage_seconds_total{container="c",namespace="demo",pod="web"} 1.5' in out
    assert "other" not in out
    assert "kube-system" not in out
    assert "2.5" not in out
    assert "node_memory_working_set_bytes 1.2e+09" in out
