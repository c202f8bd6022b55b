"""What a vcluster needs on its host: its Service, a workload ServiceAccount, the service CIDR."""

import base64
import ipaddress
import re

import yaml

from subkube.errors import SubkubeError
from subkube.kube.resource import NAMESPACES, PODS, SECRETS, SERVICEACCOUNTS, SERVICES, Resource
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.syncer import names

SERVICE_CIDRS = Resource("networking.k8s.io", "v1", "servicecidrs", "ServiceCIDR", namespaced=False)
LABEL_VCLUSTER = f"{names.DOMAIN}/vcluster"
API_PORT = 443
API_TARGET_PORT = 8443


def runner_labels(vcluster: str) -> dict[str, str]:
    """What marks a vcluster's runner pods (the chart's `subkube.selector`) and its Service."""
    return {"app.kubernetes.io/name": "subkube", "app.kubernetes.io/instance": vcluster}


def workload_service_account(vcluster: str) -> str:
    return f"subkube-workload-{vcluster}"


async def discover_service_cidr(host: Kube, namespace: str) -> str:
    """The host's service range: from its ServiceCIDR object, else from the error a
    Service with an impossible ClusterIP provokes (what older clusters tell)."""
    try:
        obj = await host.get(SERVICE_CIDRS, "kubernetes")
        cidrs = obj.get("spec", {}).get("cidrs") or []
        v4 = [c for c in cidrs if ipaddress.ip_network(c).version == 4]
        if v4 or cidrs:
            return (v4 or cidrs)[0]
    except ApiError as exc:
        if exc.status not in (403, 404):
            raise
    probe = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "subkube-cidr-probe", "namespace": namespace},
        "spec": {"clusterIP": "1.1.1.1", "ports": [{"port": 80}]},
    }
    try:
        await host.request("POST", SERVICES.path(namespace), query=[("dryRun", "All")], body=probe)
    except ApiError as exc:
        found = re.search(r"valid IPs is ([0-9a-fA-F.:/]+)", str(exc.body.get("message", "")))
        if found:
            return found.group(1)
    raise SubkubeError("cannot tell the host's service CIDR; set networking.serviceCIDR")


async def ensure_host_objects(host: Kube, namespace: str, vcluster: str) -> Obj:
    """The vcluster's Service (owner of everything synced) and workload ServiceAccount."""
    try:
        if await host.get_or_none(NAMESPACES, namespace) is None:
            raise SubkubeError(f"host namespace {namespace} does not exist; create it first")
    except ApiError as exc:
        # Inside the chart the runner may only see its own namespace, which then exists.
        if exc.status != 403:
            raise
    labels = {LABEL_VCLUSTER: vcluster, **runner_labels(vcluster)}
    service = await host.get_or_none(SERVICES, vcluster, namespace)
    if service is None:
        service = await host.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": vcluster, "namespace": namespace, "labels": labels},
                "spec": {
                    "type": "ClusterIP",
                    "ports": [
                        {
                            "name": "https",
                            "port": API_PORT,
                            "targetPort": API_TARGET_PORT,
                            "protocol": "TCP",
                        }
                    ],
                },
            },
            namespace,
        )
    elif (service["metadata"].get("labels") or {}).get(LABEL_VCLUSTER) != vcluster:
        raise SubkubeError(
            f"host namespace {namespace} already has a Service {vcluster} that "
            "subkube did not create; pick another vcluster name"
        )
    sa_name = workload_service_account(vcluster)
    if await host.get_or_none(SERVICEACCOUNTS, sa_name, namespace) is None:
        await host.create(
            SERVICEACCOUNTS,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": sa_name,
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [names.owner_reference(service)],
                },
                "automountServiceAccountToken": False,
            },
            namespace,
        )
    return service


async def delete_tenant_pods(host: Kube, namespace: str, vcluster: str) -> int:
    """Remove the vcluster's pods from the host (their virtual pods stay in its store, and
    the syncer makes them anew when it runs again); how many there were."""
    selector = f"{names.LABEL_MANAGED_BY}={vcluster}"
    pods = await host.list(PODS, namespace, label_selector=selector)
    for pod in pods["items"]:
        await host.delete(PODS, pod["metadata"]["name"], namespace)
    return len(pods["items"])


def kubeconfig_secret_name(vcluster: str) -> str:
    return f"vc-{vcluster}"


# The server a published kubeconfig names: where `kubectl port-forward` to the pod's API
# port puts it. `subkube connect` replaces it with the port it forwards.
PUBLISHED_SERVER = f"https://localhost:{API_TARGET_PORT}"


def published_kubeconfig(admin_kubeconfig: str) -> str:
    data = yaml.safe_load(admin_kubeconfig)
    for cluster in data.get("clusters") or []:
        cluster["cluster"]["server"] = PUBLISHED_SERVER
    return yaml.safe_dump(data, sort_keys=False)


def owned_secret(name: str, namespace: str, owner: Obj, files: dict[str, bytes]) -> Obj:
    """A host Secret of FILES that goes with the vcluster's Service OWNER."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {LABEL_VCLUSTER: owner["metadata"]["name"]},
            "ownerReferences": [names.owner_reference(owner)],
        },
        "data": {key: base64.b64encode(value).decode() for key, value in files.items()},
    }


async def publish_kubeconfig(
    host: Kube, name: str, namespace: str, admin_kubeconfig: str, owner: Obj
) -> None:
    """The vcluster's admin kubeconfig as a host Secret (what vcluster users know as
    `vc-NAME`), owned by the vcluster's Service so it goes with it."""
    data = {"config": published_kubeconfig(admin_kubeconfig).encode()}
    secret = owned_secret(name, namespace, owner, data)
    await host.apply(SECRETS, secret)
