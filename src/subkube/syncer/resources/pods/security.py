"""The Pod Security Standards, as the syncer enforces them on what reaches the host (pure).

The virtual API server's Pod Security admission gives tenants quick feedback, but a tenant
who is cluster-admin inside can switch it off (a namespace label is the tenant's to set).
So the syncer checks every pod against the vcluster's level before it creates the host
copy. The checks follow the "latest" version of Kubernetes' own policy
(k8s.io/pod-security-admission, 1.35) field for field; each violation names the field a
tenant has to change.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from subkube.syncer.resources.pods.references import containers

Obj = dict[str, Any]

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)

_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
_GOOD_PROFILES = ("RuntimeDefault", "Localhost")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    field: str
    level: str

    def __str__(self) -> str:
        return f"{self.field}: forbidden by {self.level}"


def more_permissive(level: str, than: str) -> bool:
    return LEVELS.index(level or PRIVILEGED) < LEVELS.index(than or PRIVILEGED)


def violations(pod: Obj, level: str) -> list[Violation]:
    """Every field of POD that LEVEL forbids (none for privileged)."""
    if level not in (BASELINE, RESTRICTED):
        return []
    fields = list(_baseline(pod))
    if level == RESTRICTED:
        fields += _restricted(pod)
    # A field can break several rules (hostPath is also a restricted volume type).
    return [Violation(f, level) for f in dict.fromkeys(fields)]


def _baseline(pod: Obj) -> Iterator[str]:
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    user_namespace = spec.get("hostUsers") is False
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        yield "spec.securityContext.windowsOptions.hostProcess"
    for namespace in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(namespace):
            yield f"spec.{namespace}"
    for i, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            yield f"spec.volumes[{i}].hostPath"
    yield from _profiles(psc, "spec.securityContext")
    for i, sysctl in enumerate(psc.get("sysctls") or []):
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            yield f"spec.securityContext.sysctls[{i}].name"
    for key, value in ((pod.get("metadata") or {}).get("annotations") or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and not (
            value in ("", "runtime/default") or value.startswith("localhost/")
        ):
            yield f"metadata.annotations[{key}]"
    for path, c in containers(spec):
        sc = c.get("securityContext") or {}
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            yield f"{path}.securityContext.windowsOptions.hostProcess"
        if sc.get("privileged"):
            yield f"{path}.securityContext.privileged"
        for j, cap in enumerate((sc.get("capabilities") or {}).get("add") or []):
            if cap not in _BASELINE_CAPABILITIES:
                yield f"{path}.securityContext.capabilities.add[{j}]"
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                yield f"{path}.ports[{j}].hostPort"
        yield from _handler_hosts(c, path)
        yield from _profiles(sc, f"{path}.securityContext")
        if not user_namespace and sc.get("procMount", "Default") != "Default":
            yield f"{path}.securityContext.procMount"


def _profiles(sc: Obj, path: str) -> Iterator[str]:
    """AppArmor, seccomp and SELinux settings of a pod's or a container's security context."""
    apparmor = sc.get("appArmorProfile")
    if apparmor is not None and apparmor.get("type") not in _GOOD_PROFILES:
        yield f"{path}.appArmorProfile.type"
    seccomp = sc.get("seccompProfile")
    if seccomp is not None and seccomp.get("type") not in _GOOD_PROFILES:
        yield f"{path}.seccompProfile.type"
    selinux = sc.get("seLinuxOptions")
    if selinux is not None:
        if selinux.get("type", "") not in _SELINUX_TYPES:
            yield f"{path}.seLinuxOptions.type"
        for key in ("user", "role"):
            if selinux.get(key):
                yield f"{path}.seLinuxOptions.{key}"


def _handler_hosts(c: Obj, path: str) -> Iterator[str]:
    """Probes and lifecycle hooks may not name a host: the kubelet would connect to it."""
    handlers = [
        (probe, c.get(probe)) for probe in ("livenessProbe", "readinessProbe", "startupProbe")
    ]
    lifecycle = c.get("lifecycle") or {}
    handlers += [(f"lifecycle.{hook}", lifecycle.get(hook)) for hook in ("postStart", "preStop")]
    for name, handler in handlers:
        for action in ("httpGet", "tcpSocket"):
            if ((handler or {}).get(action) or {}).get("host"):
                yield f"{path}.{name}.{action}.host"


def _restricted(pod: Obj) -> Iterator[str]:
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    windows = (spec.get("os") or {}).get("name") == "windows"
    user_namespace = spec.get("hostUsers") is False
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = set(volume) - {"name"}
        if not kinds & _RESTRICTED_VOLUMES:
            yield f"spec.volumes[{i}]"
    if not user_namespace:
        if psc.get("runAsNonRoot") is False:
            yield "spec.securityContext.runAsNonRoot"
        if psc.get("runAsUser") == 0:
            yield "spec.securityContext.runAsUser"
    # A pod-level profile covers every container (a bad one is baseline's to report).
    pod_seccomp = psc.get("seccompProfile") is not None
    for path, c in containers(spec):
        sc = c.get("securityContext") or {}
        if sc.get("procMount", "Default") != "Default":
            yield f"{path}.securityContext.procMount"
        if not user_namespace:
            run_as_non_root = sc.get("runAsNonRoot")
            if run_as_non_root is False or (
                run_as_non_root is None and psc.get("runAsNonRoot") is not True
            ):
                yield f"{path}.securityContext.runAsNonRoot"
            if sc.get("runAsUser") == 0:
                yield f"{path}.securityContext.runAsUser"
        if windows:
            continue
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{path}.securityContext.allowPrivilegeEscalation"
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{path}.securityContext.capabilities.drop"
        for j, cap in enumerate(capabilities.get("add") or []):
            if cap != "NET_BIND_SERVICE":
                yield f"{path}.securityContext.capabilities.add[{j}]"
        if sc.get("seccompProfile") is None and not pod_seccomp:
            yield f"{path}.securityContext.seccompProfile"
