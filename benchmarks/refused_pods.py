"""What a tenant's refused pods cost the syncer: host writes, reconciles and CPU.

Not a test: it prints figures. Run from the repo root after `make setup`:

    .venv/bin/python benchmarks/refused_pods.py --pods 100 --idle 30

It starts a private local host and a vcluster (baseline), switches off admission inside as
a tenant admin can (namespace labelled privileged), creates PODS pods with hostNetwork,
which the syncer must refuse, and reports the syncer's host writes and reconciles per pod,
its CPU time for the burst, and its CPU time over IDLE seconds before and after (a retry
loop would show there).
"""

import argparse
import json
import time

import httpx
from common import host_with_vcluster, run
from harness import cpu_seconds

from subkube.binaries.catalog import locate


def metric(url: str, name: str) -> float:
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--idle", type=float, default=30)
    args = parser.parse_args()
    with host_with_vcluster("refused") as lab:
        kubectl = [str(locate("kubectl")), f"--kubeconfig={lab.vcluster_kubeconfig}"]
        run([*kubectl, "create", "namespace", "escape"], lab.env)
        enforce = "pod-security.kubernetes.io/enforce=privileged"
        run([*kubectl, "label", "ns", "escape", enforce], lab.env)
        state = json.loads((lab.state / "vclusters/tenant/bench/state.json").read_text())
        pid, url = state["pid"], state["metrics"]
        creates = 'subkube_operations_total{kind="pods",operation="create",vcluster="bench"}'
        reconciles = 'subkube_reconcile_seconds_count{kind="pods",vcluster="bench"}'

        idle_start = cpu_seconds(pid)
        time.sleep(args.idle)
        idle_before = cpu_seconds(pid) - idle_start

        writes0, reconciles0, cpu0 = metric(url, creates), metric(url, reconciles), cpu_seconds(pid)
        pods = [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": "escape"},
                "spec": {
                    "hostNetwork": True,
                    "containers": [{"name": "c", "image": "busybox"}],
                },
            }
            for i in range(args.pods)
        ]
        started = time.monotonic()
        pod_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": pods})
        run([*kubectl, "apply", "-f", "-"], lab.env, pod_list)
        while True:
            items = json.loads(
                run([*kubectl, "-n", "escape", "get", "pods", "-o", "json"], lab.env)
            )["items"]
            refused = sum(
                1
                for p in items
                if any(c.get("reason") == "Forbidden" for c in p["status"].get("conditions") or [])
            )
            if refused == args.pods:
                break
            time.sleep(0.5)
        burst = time.monotonic() - started
        cpu_burst = cpu_seconds(pid) - cpu0

        idle_start = cpu_seconds(pid)
        time.sleep(args.idle)
        idle_after = cpu_seconds(pid) - idle_start
        writes = metric(url, creates) - writes0
        looks = metric(url, reconciles) - reconciles0

        print(f"refused pods                          {args.pods}")
        print(f"all refused within                    {burst:.1f} s")
        print(f"host pod writes per refused pod       {writes / args.pods:.2f}")
        print(f"pod reconciles per refused pod        {looks / args.pods:.2f}")
        print(f"syncer CPU for the burst              {cpu_burst:.2f} s")
        print(f"syncer CPU over {args.idle:.0f} s idle, before       {idle_before:.2f} s")
        print(f"syncer CPU over {args.idle:.0f} s idle, after        {idle_after:.2f} s")


if __name__ == "__main__":
    main()
