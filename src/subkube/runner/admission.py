"""The runner's mutating admission webhook: kinds that must act before the virtual API
server stores an object (a Service is created on the host first, to be born with the
host's ClusterIP).

It listens on loopback with a certificate of the vcluster's CA and registers itself with
failurePolicy Ignore: when the runner is down, creates still succeed and the sync repairs
what the webhook would have done.
"""

import base64
import json
import logging
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from subkube.controlplane.pki import PKI
from subkube.controlplane.ports import remembered_port
from subkube.kube.resource import Resource
from subkube.kube.rest import TRANSIENT, ApiError, Kube, Obj
from subkube.log import kv
from subkube.syncer.engine import Kind
from subkube.syncer.tohost import Admission, ToHost

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.1"
CONFIGURATION = "subkube"
MUTATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration",
    namespaced=False,
)


def review_response(request: Obj, answer: Admission) -> Obj:
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": answer.allowed}
    if answer.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(answer.patch).encode()).decode()
    if not answer.allowed:
        response["status"] = {"code": answer.code, "message": answer.message}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def configuration(url: str, ca_bundle: bytes, kinds: list[ToHost]) -> Obj:
    """The MutatingWebhookConfiguration that sends creates of KINDS to URL/<plural>."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION, "labels": {"app.kubernetes.io/managed-by": "subkube"}},
        "webhooks": [
            {
                "name": f"{kind.resource.plural}.subkube.io",
                "clientConfig": {
                    "url": f"{url}/{kind.resource.plural}",
                    "caBundle": base64.b64encode(ca_bundle).decode(),
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [kind.resource.group],
                        "apiVersions": [kind.resource.version],
                        "resources": [kind.resource.plural],
                        "scope": "Namespaced" if kind.resource.namespaced else "Cluster",
                    }
                ],
                "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Ignore",
                "reinvocationPolicy": "Never",
                "timeoutSeconds": 10,
            }
            for kind in kinds
        ],
    }


class AdmissionWebhook:
    def __init__(self, pki: PKI, port_file: Path) -> None:
        self.pki = pki
        self.port_file = port_file
        self.kinds: dict[str, ToHost] = {}
        self.runner: web.AppRunner | None = None
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.url = ""

    async def start(self, virtual: Kube, kinds: list[Kind]) -> None:
        """Serve KINDS' admission and register the webhook with the virtual API server."""
        self.kinds = {k.resource.plural: k for k in kinds if isinstance(k, ToHost) and k.admitted}
        app = web.Application()
        app.router.add_post("/{plural}", self._review)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.tls.load_cert_chain(str(self.pki.runner.cert), str(self.pki.runner.key))
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        port = remembered_port(self.port_file)
        await web.TCPSite(self.runner, ADDRESS, port, ssl_context=self.tls).start()
        self.url = f"https://{ADDRESS}:{port}"
        await self._register(virtual)
        log.info("admission webhook registered", extra=kv(url=self.url, kinds=",".join(self.kinds)))

    async def renew(self, virtual: Kube) -> None:
        """New handshakes present the renewed certificate, and the API server is told the
        CA that signed it (a new one after a CA rotation)."""
        self.tls.load_cert_chain(str(self.pki.runner.cert), str(self.pki.runner.key))
        await self._register(virtual)

    async def _register(self, virtual: Kube) -> None:
        await virtual.apply(
            MUTATING_WEBHOOKS,
            configuration(self.url, self.pki.ca.cert.read_bytes(), list(self.kinds.values())),
        )

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _review(self, http: web.Request) -> web.Response:
        review = await http.json()
        request = review.get("request") or {}
        kind = self.kinds.get(http.match_info["plural"])
        answer = Admission()
        if kind is not None and request.get("operation") == "CREATE":
            try:
                answer = await kind.admit(request)
            except (ApiError, *TRANSIENT) as exc:
                # Admitted unchanged: the sync does the same work a moment later.
                log.warning(
                    "admission fell back to the sync",
                    extra=kv(kind=kind.name, name=request.get("name", ""), error=str(exc)),
                )
        return web.json_response(review_response(request, answer))
