"""kube-apiserver: RBAC + Node authorization, service accounts, loopback only."""

from pathlib import Path

from subkube.controlplane.pki import KUBELET_CLIENT, PKI


def flags(
    *,
    pki: PKI,
    port: int,
    store_url: str,
    service_cidr: str,
    cluster_domain: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    f = {
        "bind-address": "127.0.0.1",
        "advertise-address": "127.0.0.1",
        "secure-port": str(port),
        "etcd-servers": store_url,
        "tls-cert-file": str(pki.apiserver.cert),
        "tls-private-key-file": str(pki.apiserver.key),
        "client-ca-file": str(pki.ca.cert),
        "service-cluster-ip-range": service_cidr,
        "service-account-issuer": f"https://kubernetes.default.svc.{cluster_domain}",
        "service-account-key-file": str(pki.sa_public),
        "service-account-signing-key-file": str(pki.sa_private),
        "api-audiences": f"https://kubernetes.default.svc.{cluster_domain}",
        "authorization-mode": "Node,RBAC",
        "enable-admission-plugins": "NodeRestriction",
        "allow-privileged": "true",
        "kubelet-client-certificate": str(pki.client(KUBELET_CLIENT).cert),
        "kubelet-client-key": str(pki.client(KUBELET_CLIENT).key),
        "kubelet-preferred-address-types": "InternalIP,Hostname",
        # The aggregation layer (metrics-server, custom API servers) needs the front-proxy pair.
        "requestheader-client-ca-file": str(pki.front_proxy_ca.cert),
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-username-headers": "X-Remote-User",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "proxy-client-cert-file": str(pki.front_proxy_client.cert),
        "proxy-client-key-file": str(pki.front_proxy_client.key),
        # Endpoints may not hold loopback addresses, so the built-in reconciler of the
        # `kubernetes` Service's endpoints would fail forever on a loopback-only API server.
        "endpoint-reconciler-type": "none",
        "profiling": "false",
        "v": "1",
    }
    f.update(extra or {})
    return f


def argv(binary: Path, flag_map: dict[str, str]) -> list[str]:
    return [str(binary), *(f"--{k}={v}" for k, v in flag_map.items())]
