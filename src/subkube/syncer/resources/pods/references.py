"""Which ConfigMaps, Secrets and PVCs a pod uses (pure): they are synced because of it."""

from collections.abc import Iterator
from typing import Any

Refs = dict[str, set[str]]

# Volume types that name a Secret of the pod's namespace for their driver: volume field ->
# the path to the name inside it.
SECRET_REFS: dict[str, tuple[str, ...]] = {
    "azureFile": ("secretName",),
    "cephfs": ("secretRef", "name"),
    "cinder": ("secretRef", "name"),
    "csi": ("nodePublishSecretRef", "name"),
    "flexVolume": ("secretRef", "name"),
    "iscsi": ("secretRef", "name"),
    "rbd": ("secretRef", "name"),
    "scaleIO": ("secretRef", "name"),
    "storageos": ("secretRef", "name"),
}


def driver_secret(volume: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """(the dict holding the name, its key) of a volume's driver Secret, if it names one."""
    for kind, path in SECRET_REFS.items():
        node = volume.get(kind)
        for step in path[:-1]:
            node = (node or {}).get(step)
        if node and node.get(path[-1]):
            return node, path[-1]
    return None


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) of every container of a pod spec, init and ephemeral too."""
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(group) or []):
            yield f"spec.{group}[{i}]", c


def pod_references(pod: dict[str, Any]) -> Refs:
    spec = pod.get("spec", {})
    refs: Refs = {"configmaps": set(), "secrets": set(), "persistentvolumeclaims": set()}
    for s in spec.get("imagePullSecrets") or []:
        if s.get("name"):
            refs["secrets"].add(s["name"])
    for _, c in containers(spec):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            if (ref := source.get("configMapKeyRef")) and ref.get("name"):
                refs["configmaps"].add(ref["name"])
            if (ref := source.get("secretKeyRef")) and ref.get("name"):
                refs["secrets"].add(ref["name"])
        for env_from in c.get("envFrom") or []:
            if (ref := env_from.get("configMapRef")) and ref.get("name"):
                refs["configmaps"].add(ref["name"])
            if (ref := env_from.get("secretRef")) and ref.get("name"):
                refs["secrets"].add(ref["name"])
    for vol in spec.get("volumes") or []:
        if (cm := vol.get("configMap")) and cm.get("name"):
            refs["configmaps"].add(cm["name"])
        if (sec := vol.get("secret")) and sec.get("secretName"):
            refs["secrets"].add(sec["secretName"])
        if (pvc := vol.get("persistentVolumeClaim")) and pvc.get("claimName"):
            refs["persistentvolumeclaims"].add(pvc["claimName"])
        for source in (vol.get("projected") or {}).get("sources") or []:
            if (cm := source.get("configMap")) and cm.get("name"):
                refs["configmaps"].add(cm["name"])
            if (sec := source.get("secret")) and sec.get("name"):
                refs["secrets"].add(sec["name"])
        if found := driver_secret(vol):
            holder, key = found
            refs["secrets"].add(holder[key])
    return refs
