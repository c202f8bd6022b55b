"""Pod virtual -> host, and status host -> virtual (pure).

The host pod runs the tenant's containers under a host identity: the vcluster's workload
ServiceAccount (no host token mounted), DNS pointing at the vcluster's DNS service, the
vcluster's own API service as `kubernetes`, and every reference renamed to the host copies.
Optional rewrites (images, enforced tolerations, the tenant's own ServiceAccounts and
PriorityClasses on the host, RuntimeClasses mapped to the host's) are off unless the
PodContext turns them on.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from subkube.kube.copying import json_copy
from subkube.syncer import names
from subkube.syncer.names import DOMAIN
from subkube.syncer.resources.pods.references import driver_secret
from subkube.syncer.resources.priorityclasses.translate import host_class_name

Obj = dict[str, Any]

LABELS_ANNOTATION = f"{DOMAIN}/labels"
ANNOTATIONS_ANNOTATION = f"{DOMAIN}/annotations"
SERVICE_ACCOUNT_ANNOTATION = f"{DOMAIN}/service-account-name"
# The kind of the virtual pod's controller (Job, ReplicaSet, …): the host copy is owned by
# the vcluster's Service, and whoever on the host treats pods by their owner (the local
# host completes Jobs' pods) reads it here.
OWNER_KIND_ANNOTATION = f"{DOMAIN}/object-owner-kind"
TOKEN_SECRET_SUFFIX = "-x-token"

# Downward-API fields whose host value would be wrong: redirected to annotations that carry
# the virtual value.
_FIELD_REDIRECTS = {
    "metadata.name": f"metadata.annotations['{names.ANNOTATION_NAME}']",
    "metadata.namespace": f"metadata.annotations['{names.ANNOTATION_NAMESPACE}']",
    "metadata.uid": f"metadata.annotations['{names.ANNOTATION_UID}']",
    "metadata.labels": f"metadata.annotations['{LABELS_ANNOTATION}']",
    "metadata.annotations": f"metadata.annotations['{ANNOTATIONS_ANNOTATION}']",
    "spec.serviceAccountName": f"metadata.annotations['{SERVICE_ACCOUNT_ANNOTATION}']",
}


@dataclass
class PodContext:
    vcluster: str
    host_namespace: str
    owner: Obj | None
    api_service_ip: str
    dns_service_ip: str
    workload_service_account: str
    cluster_domain: str = "cluster.local"
    api_service_port: int = 443
    # Services of the pod's virtual namespace, for service-link environment variables.
    services: list[Obj] = field(default_factory=list)
    # sync.fromHost.priorityClasses: the class a pod names inside is the host's own.
    keep_priority_class: bool = False
    # sync.fromHost.nodes.selector.labels: the host nodes tenant pods may run on.
    node_selector: dict[str, str] = field(default_factory=dict)
    # controlPlane.advanced.virtualScheduler: pods are placed inside; the host only binds.
    virtual_scheduler: bool = False
    # sync.toHost.pods.translateImage: image prefix -> replacement (see translate_image).
    translate_image: dict[str, str] = field(default_factory=dict)
    # sync.toHost.pods.enforceTolerations, as pod-spec toleration objects.
    enforce_tolerations: list[Obj] = field(default_factory=list)
    # sync.toHost.serviceAccounts: the pod runs as the host copy of its own ServiceAccount.
    service_accounts: bool = False
    # sync.toHost.priorityClasses: the class a pod names is the host copy of the tenant's
    # (none for a built-in class: see priorityclasses.translate.host_class_name).
    priority_classes: bool = False
    # Virtual RuntimeClass name -> the host RuntimeClass to use (see host_runtime_class).
    runtime_class_names: dict[str, str] = field(default_factory=dict)
    # Virtual RuntimeClass name -> its `scheduling`, for those of runtime_class_names.
    runtime_class_scheduling: dict[str, Obj] = field(default_factory=dict)


def token_secret_name(host_pod_name: str) -> str:
    """Host Secret holding a pod's virtual service-account tokens. The `-x-` before the
    suffix keeps it apart from every translated name (see names.py)."""
    return host_pod_name + TOKEN_SECRET_SUFFIX


def service_account(spec: Obj) -> str:
    """The virtual ServiceAccount a pod runs as (`serviceAccount` is its deprecated alias)."""
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def token_key(volume: str, index: int) -> str:
    return f"{volume}.{index}.token"


def _downward_format(values: dict[str, str]) -> str:
    """The format kubelet writes metadata.labels/annotations in: key="value" lines."""
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def _redirect_field(field_ref: Obj, labels: dict[str, str], vc: str) -> Obj:
    path = field_ref.get("fieldPath", "")
    out = dict(field_ref)
    if path in _FIELD_REDIRECTS:
        out["fieldPath"] = _FIELD_REDIRECTS[path]
    elif path.startswith("metadata.labels['") and path.endswith("']"):
        key = path[len("metadata.labels['") : -2]
        out["fieldPath"] = f"metadata.labels['{names.host_label_key(key, vc)}']"
    return out


def _rename(name: str | None, namespace: str, vc: str) -> str | None:
    return names.host_name(name, namespace, vc) if name else name


def _env_vars_for_services(services: list[Obj]) -> list[Obj]:
    """Docker-link style variables (FOO_SERVICE_HOST, …), as the kubelet makes them."""
    out: list[Obj] = []
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec", {})
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or not spec.get("ports"):
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        ports = spec["ports"]
        first = ports[0]
        out += [
            {"name": f"{prefix}_SERVICE_HOST", "value": ip},
            {"name": f"{prefix}_SERVICE_PORT", "value": str(first["port"])},
        ]
        for p in ports:
            if p.get("name"):
                out.append(
                    {
                        "name": f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}",
                        "value": str(p["port"]),
                    }
                )
        proto = first.get("protocol", "TCP").lower()
        out.append({"name": f"{prefix}_PORT", "value": f"{proto}://{ip}:{first['port']}"})
        for p in ports:
            proto_l = p.get("protocol", "TCP")
            base = f"{prefix}_PORT_{p['port']}_{proto_l.upper()}"
            out += [
                {"name": base, "value": f"{proto_l.lower()}://{ip}:{p['port']}"},
                {"name": f"{base}_PROTO", "value": proto_l.lower()},
                {"name": f"{base}_PORT", "value": str(p["port"])},
                {"name": f"{base}_ADDR", "value": ip},
            ]
    return out


def _kubernetes_env(ip: str, port: int) -> list[Obj]:
    return [
        {"name": "KUBERNETES_SERVICE_HOST", "value": ip},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(port)},
        {"name": "KUBERNETES_SERVICE_PORT_HTTPS", "value": str(port)},
        {"name": "KUBERNETES_PORT", "value": f"tcp://{ip}:{port}"},
        {"name": f"KUBERNETES_PORT_{port}_TCP", "value": f"tcp://{ip}:{port}"},
        {"name": f"KUBERNETES_PORT_{port}_TCP_PROTO", "value": "tcp"},
        {"name": f"KUBERNETES_PORT_{port}_TCP_PORT", "value": str(port)},
        {"name": f"KUBERNETES_PORT_{port}_TCP_ADDR", "value": ip},
    ]


def _translate_container(
    c: Obj, *, ns: str, vc: str, labels: dict[str, str], extra_env: list[Obj]
) -> Obj:
    env: list[Obj] = []
    for e in c.get("env") or []:
        e = json_copy(e)
        source = e.get("valueFrom") or {}
        if ref := source.get("configMapKeyRef"):
            ref["name"] = _rename(ref.get("name"), ns, vc)
        if ref := source.get("secretKeyRef"):
            ref["name"] = _rename(ref.get("name"), ns, vc)
        if ref := source.get("fieldRef"):
            source["fieldRef"] = _redirect_field(ref, labels, vc)
        env.append(e)
    user_names = {e["name"] for e in env}
    # Ours first and only where the user set nothing of that name: theirs always win.
    c["env"] = [e for e in extra_env if e["name"] not in user_names] + env
    for env_from in c.get("envFrom") or []:
        if ref := env_from.get("configMapRef"):
            ref["name"] = _rename(ref.get("name"), ns, vc)
        if ref := env_from.get("secretRef"):
            ref["name"] = _rename(ref.get("name"), ns, vc)
    return c


def _translate_downward_items(items: list[Obj], labels: dict[str, str], vc: str) -> None:
    for item in items:
        if ref := item.get("fieldRef"):
            item["fieldRef"] = _redirect_field(ref, labels, vc)


def _translate_volumes(
    volumes: list[Obj],
    *,
    pod_name: str,
    ns: str,
    vc: str,
    labels: dict[str, str],
    token_secret: str,
) -> None:
    for vol in volumes:
        if cm := vol.get("configMap"):
            cm["name"] = _rename(cm.get("name"), ns, vc)
        if sec := vol.get("secret"):
            sec["secretName"] = _rename(sec.get("secretName"), ns, vc)
        if pvc := vol.get("persistentVolumeClaim"):
            pvc["claimName"] = _rename(pvc.get("claimName"), ns, vc)
        if dw := vol.get("downwardAPI"):
            _translate_downward_items(dw.get("items") or [], labels, vc)
        if vol.pop("ephemeral", None) is not None:
            # The virtual controller-manager makes the claim `<pod>-<volume>`; the host uses
            # the synced copy of it.
            vol["persistentVolumeClaim"] = {
                "claimName": names.host_name(f"{pod_name}-{vol['name']}", ns, vc)
            }
        if found := driver_secret(vol):
            holder, key = found
            holder[key] = _rename(holder[key], ns, vc)
        if (gluster := vol.get("glusterfs")) and gluster.get("endpoints"):
            gluster["endpoints"] = _rename(gluster["endpoints"], ns, vc)
        projected = vol.get("projected")
        if not projected:
            continue
        sources = []
        for i, source in enumerate(projected.get("sources") or []):
            if cm := source.get("configMap"):
                cm["name"] = _rename(cm.get("name"), ns, vc)
            if sec := source.get("secret"):
                sec["name"] = _rename(sec.get("name"), ns, vc)
            if dw := source.get("downwardAPI"):
                _translate_downward_items(dw.get("items") or [], labels, vc)
            if sat := source.pop("serviceAccountToken", None):
                # The token is minted by the virtual API server and delivered as a Secret.
                source["secret"] = {
                    "name": token_secret,
                    "items": [{"key": token_key(vol["name"], i), "path": sat.get("path", "token")}],
                }
            if "clusterTrustBundle" in source or "podCertificate" in source:
                continue  # virtual-cluster objects the host cannot resolve
            sources.append(source)
        projected["sources"] = sources


def token_requests(vpod: Obj) -> list[tuple[str, int, Obj]]:
    """(volume, source index, serviceAccountToken source) for every projected token."""
    out = []
    for vol in vpod.get("spec", {}).get("volumes") or []:
        for i, source in enumerate((vol.get("projected") or {}).get("sources") or []):
            if sat := source.get("serviceAccountToken"):
                out.append((vol["name"], i, sat))
    return out


def _translate_selector(selector: Obj | None, ns: str, vc: str) -> Obj | None:
    if not selector:
        return selector
    out: Obj = {}
    if ml := selector.get("matchLabels"):
        out["matchLabels"] = {names.host_label_key(k, vc): v for k, v in ml.items()}
    if exprs := selector.get("matchExpressions"):
        out["matchExpressions"] = [{**e, "key": names.host_label_key(e["key"], vc)} for e in exprs]
    out.setdefault("matchLabels", {})[names.LABEL_NAMESPACE] = ns
    out["matchLabels"][names.LABEL_MANAGED_BY] = vc
    return out


def _translate_affinity(affinity: Obj, ns: str, vc: str) -> None:
    for kind in ("podAffinity", "podAntiAffinity"):
        section = affinity.get(kind)
        if not section:
            continue
        terms = list(section.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            w["podAffinityTerm"]
            for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        for term in terms:
            term["labelSelector"] = _translate_selector(term.get("labelSelector"), ns, vc)
            # All tenant pods live in one host namespace; namespace scoping is in the labels.
            term.pop("namespaces", None)
            term.pop("namespaceSelector", None)


def _qualified(image: str) -> str:
    """IMAGE with the registry and namespace a container runtime gives a short name."""
    first, slash, _ = image.partition("/")
    if not slash:
        return "docker.io/library/" + image
    if "." in first or ":" in first or first == "localhost":
        return image
    return "docker.io/" + image


def _prefix_of(prefix: str, image: str) -> bool:
    """Whether PREFIX is IMAGE or a leading part of it that ends at a boundary: before a
    `/` (a registry or a repository path), `@` (a digest) or `:` (a tag; a `:` with a `/`
    after it is a registry's port, not a tag)."""
    if not prefix or not image.startswith(prefix):
        return False
    rest = image[len(prefix) :]
    if not rest or prefix.endswith("/"):
        return True
    return rest[0] in "/@" or (rest[0] == ":" and "/" not in rest)


def translate_image(image: str, rules: Mapping[str, str]) -> str:
    """IMAGE with the longest matching prefix of RULES replaced (see _prefix_of: `nginx`
    matches `nginx`, `nginx:1.27`, `nginx@sha256:…` and `nginx/x`, never `nginx-ingress`).
    Rules are matched against the image as written first; only when none matches, against
    its fully qualified form (`redis:7` is `docker.io/library/redis:7`), so a rule for
    `docker.io/library/` also mirrors short names, and a rule for the name as written wins.
    vCluster matches whole images only; an exact rule (`nginx:1.25`) still works here."""
    for candidate in dict.fromkeys((image, _qualified(image))):
        best = max((k for k in rules if _prefix_of(k, candidate)), key=len, default=None)
        if best is not None:
            return rules[best] + candidate[len(best) :]
    return image


def _toleration_key(t: Obj) -> tuple[str, str, str, str, int | None]:
    # The API's defaults (operator Equal, empty fields) make these spellings the same.
    return (
        t.get("key") or "",
        t.get("operator") or "Equal",
        t.get("value") or "",
        t.get("effect") or "",
        t.get("tolerationSeconds"),
    )


def with_tolerations(tolerations: list[Obj], enforced: list[Obj]) -> list[Obj]:
    """TOLERATIONS and every ENFORCED toleration that is not already among them."""
    out = list(tolerations)
    have = {_toleration_key(t) for t in out}
    for t in enforced:
        if _toleration_key(t) not in have:
            out.append(json_copy(t))
            have.add(_toleration_key(t))
    return out


def host_runtime_class(virtual_class: Obj | None, host_classes: list[Obj]) -> str | None:
    """The host RuntimeClass a tenant's RuntimeClass stands for: one with the same handler
    (what the container runtime runs), the one of the same name if several; None when the
    host has none."""
    if not virtual_class:
        return None
    handler = virtual_class.get("handler")
    same = [c["metadata"]["name"] for c in host_classes if c.get("handler") == handler]
    if not same:
        return None
    name = virtual_class["metadata"]["name"]
    return name if name in same else sorted(same)[0]


def without_class_scheduling(spec: Obj, scheduling: Obj | None) -> None:
    """Take out of SPEC what the tenant's RuntimeClass SCHEDULING merged into it: it places
    the pod among the tenant's nodes. On the host the host class's scheduling places it (the
    host's admission merges that in), and a node selector of the tenant's class that names
    the same label with another value would make the host's admission refuse the pod."""
    if not scheduling:
        return
    selector = scheduling.get("nodeSelector") or {}
    if spec.get("nodeSelector") and selector:
        kept = {k: v for k, v in spec["nodeSelector"].items() if selector.get(k) != v}
        if kept:
            spec["nodeSelector"] = kept
        else:
            del spec["nodeSelector"]
    theirs = {_toleration_key(t) for t in scheduling.get("tolerations") or []}
    if spec.get("tolerations") and theirs:
        own = [t for t in spec["tolerations"] if _toleration_key(t) not in theirs]
        if own:
            spec["tolerations"] = own
        else:
            del spec["tolerations"]


def to_host(vpod: Obj, ctx: PodContext) -> Obj:
    pod = json_copy(vpod)
    meta = pod["metadata"]
    ns, name, vc = meta["namespace"], meta["name"], ctx.vcluster
    labels = meta.get("labels") or {}
    spec = pod["spec"]

    host_meta = names.host_metadata(
        pod, kind="Pod", vcluster=vc, host_namespace=ctx.host_namespace, owner=ctx.owner
    )
    host_meta["annotations"][LABELS_ANNOTATION] = _downward_format(labels)
    host_meta["annotations"][ANNOTATIONS_ANNOTATION] = _downward_format(
        {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
    )
    host_meta["annotations"][SERVICE_ACCOUNT_ANNOTATION] = spec.get("serviceAccountName", "default")
    if owner_kind := controller_kind(vpod):
        host_meta["annotations"][OWNER_KIND_ANNOTATION] = owner_kind
    host_pod_name = host_meta["name"]

    extra_env = _kubernetes_env(ctx.api_service_ip, ctx.api_service_port)
    if spec.get("enableServiceLinks", True):
        extra_env = _env_vars_for_services(ctx.services) + extra_env
    for group in ("initContainers", "containers", "ephemeralContainers"):
        spec[group] = [
            _translate_container(c, ns=ns, vc=vc, labels=labels, extra_env=extra_env)
            for c in spec.get(group) or []
        ] or None
        if spec[group] is None:
            del spec[group]
        elif ctx.translate_image:
            for c in spec[group]:
                if c.get("image"):
                    c["image"] = translate_image(c["image"], ctx.translate_image)

    _translate_volumes(
        spec.get("volumes") or [],
        pod_name=name,
        ns=ns,
        vc=vc,
        labels=labels,
        token_secret=token_secret_name(host_pod_name),
    )
    for s in spec.get("imagePullSecrets") or []:
        s["name"] = _rename(s.get("name"), ns, vc)
    # Every name a pod gives is one of its namespace's objects, and so is translated, whether
    # or not subkube syncs that kind: never a host object of that very name.
    for claim in spec.get("resourceClaims") or []:
        for key in ("resourceClaimName", "resourceClaimTemplateName"):
            if claim.get(key):
                claim[key] = _rename(claim[key], ns, vc)

    if ctx.service_accounts:
        spec["serviceAccountName"] = names.host_name(service_account(spec), ns, vc)
    else:
        spec["serviceAccountName"] = ctx.workload_service_account
    spec.pop("serviceAccount", None)
    # Tokens come from the virtual API server (token_requests), never from the host.
    spec["automountServiceAccountToken"] = False
    spec["enableServiceLinks"] = False
    # The host schedules, with the scheduler the tenant named (the host may run it), unless
    # a scheduler inside already chose the node. A priority class that exists only inside
    # means nothing there (the host's admission resolves it anew); priority and overhead are
    # the host's admission's to fill in from the host's classes, and it refuses a pod whose
    # values differ from its class's.
    dropped = ["priority", "preemptionPolicy", "overhead"]
    if not ctx.virtual_scheduler:
        dropped.append("nodeName")
    if ctx.priority_classes:
        spec["priorityClassName"] = host_class_name(
            spec.get("priorityClassName") or "", vcluster=vc, host_namespace=ctx.host_namespace
        )
    elif not ctx.keep_priority_class:
        spec.pop("priorityClassName", None)
    if not spec.get("priorityClassName"):
        dropped.append("priorityClassName")
    for f in dropped:
        spec.pop(f, None)
    if (runtime := spec.get("runtimeClassName")) in ctx.runtime_class_names:
        spec["runtimeClassName"] = ctx.runtime_class_names[runtime]
        without_class_scheduling(spec, ctx.runtime_class_scheduling.get(runtime))
    if ctx.enforce_tolerations:
        spec["tolerations"] = with_tolerations(
            spec.get("tolerations") or [], ctx.enforce_tolerations
        )
    if pinned_nodes(spec):
        # A DaemonSet's pod names its node; the controller inside already matched the
        # DaemonSet's node selector against the tenant's view of that node, labels the
        # host's node may lack.
        spec.pop("nodeSelector", None)
    if ctx.node_selector:
        spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **ctx.node_selector}
    if "hostname" not in spec and names.is_dns_label(name):
        spec["hostname"] = name
    if sub := spec.get("subdomain"):
        spec["subdomain"] = names.host_name(sub, ns, vc)

    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy == "ClusterFirst" or (
        policy == "ClusterFirstWithHostNet" and spec.get("hostNetwork")
    ):
        user = spec.get("dnsConfig") or {}
        domain = ctx.cluster_domain
        spec["dnsPolicy"] = "None"
        spec["dnsConfig"] = {
            "nameservers": [ctx.dns_service_ip, *(user.get("nameservers") or [])][:3],
            "searches": [
                f"{ns}.svc.{domain}",
                f"svc.{domain}",
                domain,
                *(user.get("searches") or []),
            ],
            "options": [
                {"name": "ndots", "value": "5"},
                *[o for o in user.get("options") or [] if o.get("name") != "ndots"],
            ],
        }

    api_names = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{ctx.cluster_domain}",
    ]
    spec["hostAliases"] = [
        {"ip": ctx.api_service_ip, "hostnames": api_names},
        *(spec.get("hostAliases") or []),
    ]

    if affinity := spec.get("affinity"):
        _translate_affinity(affinity, ns, vc)
    for tsc in spec.get("topologySpreadConstraints") or []:
        tsc["labelSelector"] = _translate_selector(tsc.get("labelSelector"), ns, vc)

    return {"apiVersion": "v1", "kind": "Pod", "metadata": host_meta, "spec": spec}


def controller_kind(vpod: Obj) -> str:
    for ref in vpod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", ""))
    return ""


def pinned_nodes(spec: Obj) -> set[str]:
    """The nodes a pod's required node affinity names by `metadata.name` in every term (what
    the DaemonSet controller writes), or nothing if any term selects by labels."""
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    out: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        fields = [
            f
            for f in term.get("matchFields") or []
            if f.get("key") == "metadata.name" and f.get("operator") == "In"
        ]
        if not fields or term.get("matchExpressions"):
            return set()
        for f in fields:
            out.update(f.get("values") or [])
    return out


def host_spec_update(desired: Obj, actual: Obj) -> Obj | None:
    """What may still change on a running host pod: container images, activeDeadlineSeconds,
    and added tolerations."""
    spec_patch: Obj = {}
    dspec, aspec = desired["spec"], actual["spec"]
    for group in ("containers", "initContainers"):
        want = {c["name"]: c for c in dspec.get(group) or []}
        have = aspec.get(group) or []
        if any(want.get(c["name"], c).get("image") != c.get("image") for c in have):
            spec_patch[group] = [{**c, "image": want.get(c["name"], c).get("image")} for c in have]
    if (
        dspec.get("activeDeadlineSeconds") != aspec.get("activeDeadlineSeconds")
        and dspec.get("activeDeadlineSeconds") is not None
    ):
        spec_patch["activeDeadlineSeconds"] = dspec["activeDeadlineSeconds"]
    have_tol = aspec.get("tolerations") or []
    added = [t for t in dspec.get("tolerations") or [] if t not in have_tol]
    if added:
        spec_patch["tolerations"] = have_tol + added
    return {"spec": spec_patch} if spec_patch else None


def status_to_virtual(vpod: Obj, hpod: Obj) -> Obj | None:
    """The virtual pod with the host's status (all of it but qosClass), or None if equal."""
    status = json_copy(hpod.get("status") or {})
    vstatus = vpod.get("status") or {}
    if "qosClass" in vstatus:
        status["qosClass"] = vstatus["qosClass"]
    else:
        status.pop("qosClass", None)
    if status == vstatus:
        return None
    out = json_copy(vpod)
    out["status"] = status
    return out


def refused_with(vpod: Obj, reason: str) -> str | None:
    """The message of the PodScheduled condition a refusal for REASON left, if any."""
    for condition in (vpod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == reason:
            return str(condition.get("message", ""))
    return None
