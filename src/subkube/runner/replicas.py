"""A vcluster run as several replicas (controlPlane.highAvailability): who this replica is
among its peers, and the PKI they share through a host Secret.

Replicas are the pods of the chart's StatefulSet: `NAME-0` … `NAME-(N-1)`, each reached by
its peers at its stable DNS name under the headless Service. The first replica to start
makes the CAs and the service-account signer and publishes them; the others take them, so
a certificate or token of any replica is good at all of them.
"""

import asyncio
import base64
from pathlib import Path

from subkube.controlplane import pki
from subkube.controlplane.spec import Replica
from subkube.errors import SubkubeError
from subkube.kube.resource import SECRETS
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.runner import hostside


def headless_service(vcluster: str) -> str:
    """The chart's Service that gives each replica its DNS name."""
    return f"{vcluster}-headless"


def pki_secret_name(vcluster: str) -> str:
    return f"vc-{vcluster}-pki"


def member_host(vcluster: str, namespace: str, ordinal: int) -> str:
    """The DNS name of replica ORDINAL: short of the cluster domain, which the resolver's
    search path completes (the host's domain is not the vcluster's to know)."""
    return f"{vcluster}-{ordinal}.{headless_service(vcluster)}.{namespace}.svc"


def member_hosts(vcluster: str, namespace: str, replicas: int) -> dict[str, str]:
    return {f"{vcluster}-{i}": member_host(vcluster, namespace, i) for i in range(replicas)}


def replica(vcluster: str, namespace: str, replicas: int, pod_name: str, pod_ip: str) -> Replica:
    """This pod's place among the REPLICAS of VCLUSTER."""
    members = member_hosts(vcluster, namespace, replicas)
    if pod_name not in members:
        raise SubkubeError(
            f"pod {pod_name or '(POD_NAME unset)'} is not one of the {replicas} replicas "
            f"{', '.join(members)}: run it from the chart's StatefulSet"
        )
    if not pod_ip:
        raise SubkubeError("POD_IP is unset: replicas need their pod's address (status.podIP)")
    return Replica(
        name=pod_name, members=members, listen_ip=pod_ip, token=f"{vcluster}.{namespace}"
    )


async def share_pki(host: Kube, namespace: str, vcluster: str, root: Path, owner: Obj) -> None:
    """Make the shared PKI files and publish them, or take the ones another replica
    published first (create is the arbiter: exactly one replica's files win)."""
    name = pki_secret_name(vcluster)
    secret = await host.get_or_none(SECRETS, name, namespace)
    if secret is None:
        files = await asyncio.to_thread(pki.make_shared, root)
        body = hostside.owned_secret(name, namespace, owner, files)
        try:
            secret = await host.create(SECRETS, body, namespace)
        except ApiError as exc:
            if not exc.conflict:
                raise
            secret = await host.get(SECRETS, name, namespace)
    files = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    await asyncio.to_thread(pki.adopt_shared, root, files)
