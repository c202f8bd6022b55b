"""Pods: virtual -> host with full translation; status, node binding and deletion back.

A pod refused here (pod security, or a RuntimeClass the host cannot run: see
pods/runtimeclasses.py for which host class a pod runs under and why that needs
sync.fromHost.runtimeClasses) stays inside with a Warning event and a PodScheduled
condition saying why."""

import base64
import datetime as dt
import logging
from collections.abc import Iterable

from subkube.kube.informer import BY_NAMESPACE, Informer, namespace_of
from subkube.kube.resource import (
    PODS,
    RUNTIMECLASSES,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    Resource,
)
from subkube.kube.rest import ApiError, Obj
from subkube.log import kv
from subkube.syncer import names, refusal
from subkube.syncer.references import reference
from subkube.syncer.resources.pods import runtimeclasses, security, translate
from subkube.syncer.resources.pods.references import pod_references
from subkube.syncer.tohost import ToHost

log = logging.getLogger(__name__)

TOKEN_EXPIRY_ANNOTATION = f"{names.DOMAIN}/token-expires"
DEFAULT_TOKEN_SECONDS = 3607
# Like the kubelet: renew once 80 % of a token's lifetime has passed.
RENEW_FRACTION = 0.8
# The reason on a refused pod's PodScheduled condition, as on its Warning event.
REFUSED = refusal.REASON
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
# Virtual pods by the ServiceAccount they run as ("namespace/name").
BY_SERVICE_ACCOUNT = "service-account"
# Virtual pods by the RuntimeClass they name.
BY_RUNTIME_CLASS = "runtime-class"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Pods(ToHost):
    name = "pods"
    resource: Resource = PODS
    translate = translate

    def watch(self) -> list[Informer]:
        cache, ctx = self.ctx.cache, self.ctx
        # Service links name the Services of the pod's namespace.
        self.services = cache.informer("virtual", SERVICES)
        self.services.add_index(BY_NAMESPACE, namespace_of)
        # Token Secrets carry our managed-by label: the Secrets kind reads the same.
        self.host_secrets = ctx.owned(SECRETS)
        informers = [*super().watch(), self.services, self.host_secrets]
        if ctx.sync.toHost.serviceAccounts.enabled:
            # A pod runs as the host copy of its ServiceAccount, which the host requires to
            # exist: a pod created with its namespace waits for the copy, then goes at once.
            self.host_service_accounts = ctx.owned(SERVICEACCOUNTS)
            self.host_service_accounts.add_handler(self._service_account_arrived)
            self.virtual.add_index(BY_SERVICE_ACCOUNT, _service_account_key)
            informers.append(self.host_service_accounts)
        # A pod naming a RuntimeClass waits, refused, for a host class of its handler: it
        # goes when the classes change.
        self.runtime_classes = cache.informer("virtual", RUNTIMECLASSES)
        self.virtual.add_index(BY_RUNTIME_CLASS, _runtime_class)
        self.runtime_classes.add_handler(
            lambda _t, rc: self._enqueue_new(
                self.virtual.by_index(BY_RUNTIME_CLASS, rc["metadata"]["name"])
            )
        )
        informers.append(self.runtime_classes)
        self.host_runtime_classes: Informer | None = None
        if ctx.sync.fromHost.runtimeClasses.enabled:
            self.host_runtime_classes = cache.informer("host", RUNTIMECLASSES)
            self.host_runtime_classes.add_handler(
                lambda _t, _rc: self._enqueue_new(
                    pod
                    for name in self.virtual.index_values(BY_RUNTIME_CLASS)
                    for pod in self.virtual.by_index(BY_RUNTIME_CLASS, name)
                )
            )
            informers.append(self.host_runtime_classes)
        return informers

    def _enqueue_new(self, pods: Iterable[Obj]) -> None:
        """Enqueue those of PODS that have no host copy yet."""
        for pod in pods:
            meta = pod["metadata"]
            if not self.host.has(*self.host_key(meta["namespace"], meta["name"])):
                self.enqueue((meta["namespace"], meta["name"]))

    def _service_account_arrived(self, event: str, hsa: Obj) -> None:
        key = names.virtual_key(hsa)
        if event == "ADDED" and key is not None:
            self._enqueue_new(self.virtual.by_index(BY_SERVICE_ACCOUNT, "/".join(key)))

    def waiting(self, vobj: Obj) -> bool:
        if not self.ctx.sync.toHost.serviceAccounts.enabled:
            return False
        namespace = vobj["metadata"]["namespace"]
        account = translate.service_account(vobj.get("spec") or {})
        host_name = self.ctx.host_name(account, namespace)
        if self.host_service_accounts.has(self.ctx.host_namespace, host_name):
            return False
        log.debug(
            "pod waits for its service account on the host",
            extra=kv(pod=f"{namespace}/{vobj['metadata']['name']}", service_account=account),
        )
        return True

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
        services = self.services.in_namespace(namespace)
        sync = self.ctx.sync
        nodes = sync.fromHost.nodes
        runtime_names, runtime_scheduling = (
            runtimeclasses.mapping(self.runtime_classes.items(), self.host_runtime_classes.items())
            if self.host_runtime_classes is not None
            else ({}, {})
        )
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
            priority_classes=sync.toHost.priorityClasses.enabled,
            node_selector=nodes.selector.labels if nodes.enabled else {},
            virtual_scheduler=self.virtual_scheduler,
            translate_image=sync.toHost.pods.translateImage,
            enforce_tolerations=[t.as_dict() for t in sync.toHost.pods.enforceTolerations],
            service_accounts=sync.toHost.serviceAccounts.enabled,
            runtime_class_names=runtime_names,
            runtime_class_scheduling=runtime_scheduling,
        )

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(vobj, self.pod_context(vobj["metadata"]["namespace"]))

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
        message = "; ".join(str(v) for v in security.violations(vobj, self.ctx.pod_security))
        if not message and (runtime := vobj["spec"].get("runtimeClassName")):
            chosen = await self._host_runtime_class(runtime)
            if chosen is None:
                return True
            message = chosen.refusal
        if not message:
            return False
        if translate.refused_with(vobj, REFUSED) != message:
            await self._tell_refused(vobj, message)
        return True

    async def _host_runtime_class(self, name: str) -> runtimeclasses.HostClass | None:
        """None: the class exists but our cache has not seen it yet; it enqueues the pods
        naming it when it does (a pod created with its class must not be told it has none)."""
        virtual_class = self.runtime_classes.get("", name)
        if virtual_class is None and await self.ctx.virtual.get_or_none(RUNTIMECLASSES, name):
            return None
        hosts = self.host_runtime_classes
        return runtimeclasses.host_class(
            name, virtual_class, hosts.items() if hosts is not None else None
        )

    async def _tell_refused(self, vobj: Obj, message: str) -> None:
        """A Warning event and the pod's status say why it never reaches a node."""
        meta = vobj["metadata"]
        now = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
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
        await self.tell_refused(vobj, message)

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
        sa = translate.service_account(vobj["spec"])
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


def _service_account_key(vpod: Obj) -> list[str]:
    namespace = vpod["metadata"].get("namespace", "")
    return [f"{namespace}/{translate.service_account(vpod.get('spec') or {})}"]


def _renew_at(secret: Obj | None) -> dt.datetime | None:
    if secret is None:
        return None
    raw = (secret["metadata"].get("annotations") or {}).get(TOKEN_EXPIRY_ANNOTATION)
    try:
        return dt.datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _runtime_class(vpod: Obj) -> list[str]:
    name = (vpod.get("spec") or {}).get("runtimeClassName")
    return [name] if name else []
