"""Pods: virtual -> host with full translation; status, node binding and deletion back."""

import base64
import datetime as dt
import logging

from subkube.kube.informer import Informer
from subkube.kube.resource import EVENTS, PODS, SECRETS, SERVICES, Resource
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import names
from subkube.syncer.references import reference
from subkube.syncer.resources.pods import security, translate
from subkube.syncer.resources.pods.references import pod_references
from subkube.syncer.tohost import ToHost

log = logging.getLogger(__name__)

TOKEN_EXPIRY_ANNOTATION = f"{names.DOMAIN}/token-expires"
DEFAULT_TOKEN_SECONDS = 3607
# Like the kubelet: renew once 80 % of a token's lifetime has passed.
RENEW_FRACTION = 0.8
# The reason on a refused pod's PodScheduled condition and on its Warning event.
REFUSED = "Forbidden"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Pods(ToHost):
    name = "pods"
    resource: Resource = PODS

    def watch(self) -> list[Informer]:
        cache, ctx = self.ctx.cache, self.ctx
        # Service links name the Services of the pod's namespace.
        self.services = cache.informer("virtual", SERVICES)
        # Token Secrets carry our managed-by label: the Secrets kind reads the same.
        self.host_secrets = ctx.owned(SECRETS)
        return [*super().watch(), self.services, self.host_secrets]

    @property
    def virtual_scheduler(self) -> bool:
        return self.ctx.virtual_scheduler

    @staticmethod
    def references(vobj: Obj) -> list[str]:
        namespace = vobj.get("metadata", {}).get("namespace", "")
        return [
            reference(plural, namespace, name)
            for plural, names_ in pod_references(vobj).items()
            for name in names_
        ]

    def wanted(self, vobj: Obj) -> bool:
        # With a scheduler inside, a pod reaches the host once it has been placed.
        return not self.virtual_scheduler or bool(vobj.get("spec", {}).get("nodeName"))

    async def _token_secret(self, name: str) -> Obj | None:
        return self.host_secrets.get(self.ctx.host_namespace, name)

    def pod_context(self, namespace: str) -> translate.PodContext:
        services = [s for s in self.services.items() if s["metadata"].get("namespace") == namespace]
        sync = self.ctx.sync
        nodes = sync.fromHost.nodes
        return translate.PodContext(
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
            api_service_ip=self.ctx.api_service_ip,
            dns_service_ip=self.ctx.dns_service_ip,
            workload_service_account=self.ctx.workload_service_account,
            cluster_domain=self.ctx.cluster_domain,
            services=services,
            keep_priority_class=sync.fromHost.priorityClasses.enabled,
            node_selector=nodes.selector.labels if nodes.enabled else {},
            virtual_scheduler=self.virtual_scheduler,
            translate_image=sync.toHost.pods.translateImage,
            enforce_tolerations=[t.as_dict() for t in sync.toHost.pods.enforceTolerations],
        )

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(vobj, self.pod_context(vobj["metadata"]["namespace"]))

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        return translate.host_spec_update(desired, actual)

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        return translate.status_to_virtual(vobj, hobj)

    async def sync_back(self, vobj: Obj, hobj: Obj) -> Obj | None:
        node = hobj.get("spec", {}).get("nodeName")
        if node and not vobj.get("spec", {}).get("nodeName"):
            meta = vobj["metadata"]
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            }
            try:
                await self.ctx.virtual.request(
                    "POST", PODS.path(meta["namespace"], meta["name"], "binding"), body=binding
                )
            except ApiError as exc:
                if not exc.conflict:
                    raise
        return await super().sync_back(vobj, hobj)

    async def refuse(self, vobj: Obj) -> bool:
        found = security.violations(vobj, self.ctx.pod_security)
        if not found:
            return False
        message = "; ".join(str(v) for v in found)
        if translate.refused_with(vobj, REFUSED) != message:
            await self._tell_refused(vobj, message)
        return True

    async def _tell_refused(self, vobj: Obj, message: str) -> None:
        """A Warning event and the pod's status say why it never reaches a node."""
        meta = vobj["metadata"]
        now = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        log.info(
            "pod refused by pod security",
            extra=kv(pod=f"{meta['namespace']}/{meta['name']}", why=message),
        )
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": REFUSED,
            "message": message,
            "lastTransitionTime": now,
        }
        await self.ctx.virtual.patch(
            PODS,
            meta["name"],
            {"status": {"conditions": [condition]}},
            meta["namespace"],
            content_type=STRATEGIC_MERGE,
            subresource="status",
        )
        await self.ctx.virtual.create(
            EVENTS,
            translate.refusal_event(vobj, REFUSED, message, now=now, vcluster=self.ctx.vcluster),
            meta["namespace"],
        )

    async def host_missing(self, vobj: Obj) -> bool:
        # A virtual pod that ran on the host had a host pod: someone deleted it there. Like
        # a node losing a pod, the virtual pod goes too, and its controller replaces it.
        # Only a status from the host tells that it ran: a pod can be bound inside before
        # it ever reached the host (a tenant's nodeName, a scheduler inside).
        status = vobj.get("status") or {}
        if not (status.get("hostIP") or status.get("startTime")):
            return False
        meta = vobj["metadata"]
        log.info(
            "host pod is gone, deleting the virtual pod",
            extra=kv(pod=f"{meta['namespace']}/{meta['name']}"),
        )
        await self._remove_virtual(meta)
        return True

    async def _remove_virtual(self, meta: Obj) -> None:
        """Delete the virtual pod at once (grace 0): no kubelet will ever confirm it. A UID
        conflict means a new pod of that name exists; that one stays."""
        try:
            await self.ctx.virtual.delete(
                PODS, meta["name"], meta["namespace"], grace_period=0, uid=meta["uid"]
            )
        except ApiError as exc:
            if not exc.conflict:
                raise

    async def virtual_deleting(self, vobj: Obj, hobj: Obj | None) -> bool:
        meta = vobj["metadata"]
        if hobj is None:
            # The host pod is gone: finish the virtual deletion, as a kubelet would.
            await self._remove_virtual(meta)
            return True
        if not hobj["metadata"].get("deletionTimestamp"):
            await self.ctx.host.delete(
                PODS,
                hobj["metadata"]["name"],
                hobj["metadata"]["namespace"],
                grace_period=meta.get("deletionGracePeriodSeconds"),
                uid=hobj["metadata"]["uid"],
            )
        else:
            await self.sync_back(vobj, hobj)
        return True

    async def after_create(self, vobj: Obj, created: Obj) -> None:
        await self._write_tokens(vobj, created, existing=None)

    async def after_update(self, vobj: Obj, hobj: Obj) -> None:
        if not translate.token_requests(vobj):
            return
        secret_name = translate.token_secret_name(hobj["metadata"]["name"])
        secret = await self._token_secret(secret_name)
        renew_at = _renew_at(secret)
        if renew_at is None or renew_at <= _now():
            renew_at = _renew_at(await self._write_tokens(vobj, hobj, existing=secret))
        if renew_at is not None:
            meta = vobj["metadata"]
            self.requeue_after(
                (meta["namespace"], meta["name"]), max(1.0, (renew_at - _now()).total_seconds())
            )

    async def _mint(self, vobj: Obj, source: Obj) -> tuple[str, dt.datetime]:
        meta = vobj["metadata"]
        sa = vobj["spec"].get("serviceAccountName") or "default"
        spec: Obj = {
            "expirationSeconds": int(source.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS),
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "uid": meta["uid"],
            },
        }
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        result = await self.ctx.virtual.request(
            "POST",
            f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{sa}/token",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        expires = dt.datetime.fromisoformat(
            result["status"]["expirationTimestamp"].replace("Z", "+00:00")
        )
        return result["status"]["token"], expires

    async def _write_tokens(self, vobj: Obj, hpod: Obj, existing: Obj | None) -> Obj | None:
        """Mint each projected token with the VIRTUAL API server (bound to the virtual pod)
        and store them in one host Secret owned by the host pod."""
        requests = translate.token_requests(vobj)
        if not requests:
            return None
        data: dict[str, str] = {}
        renew: dt.datetime | None = None
        now = _now()
        for volume, index, source in requests:
            token, expires = await self._mint(vobj, source)
            data[translate.token_key(volume, index)] = base64.b64encode(token.encode()).decode()
            at = now + (expires - now) * RENEW_FRACTION
            renew = at if renew is None or at < renew else renew
        hmeta = hpod["metadata"]
        secret: Obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": translate.token_secret_name(hmeta["name"]),
                "namespace": self.ctx.host_namespace,
                "labels": {names.LABEL_MANAGED_BY: self.ctx.vcluster},
                "annotations": {TOKEN_EXPIRY_ANNOTATION: (renew or now).isoformat()},
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": hmeta["name"],
                        "uid": hmeta["uid"],
                        "controller": False,
                        "blockOwnerDeletion": False,
                    }
                ],
            },
            "data": data,
        }
        written: Obj | None = None
        if existing is None:
            try:
                written = await self.ctx.host.create(SECRETS, secret, self.ctx.host_namespace)
            except ApiError as exc:
                if not exc.already_exists:
                    raise
        if written is None:
            written = await self.ctx.host.patch(
                SECRETS,
                secret["metadata"]["name"],
                {"metadata": {"annotations": secret["metadata"]["annotations"]}, "data": data},
                self.ctx.host_namespace,
            )
        self.host_secrets.write_through(written, existing)
        return written


def _renew_at(secret: Obj | None) -> dt.datetime | None:
    if secret is None:
        return None
    raw = (secret["metadata"].get("annotations") or {}).get(TOKEN_EXPIRY_ANNOTATION)
    try:
        return dt.datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
