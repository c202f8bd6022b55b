"""The tenant's writes refused while the disk under the vcluster's store is nearly full.

kine on SQLite acknowledges writes it could not store once its disk is full: a ConfigMap
created with 201 Created is not found the next instant (measured on a full tmpfs), while its
poll loop inserts fill records by the thousand. So the runner keeps writes away from a full
disk. Below a floor of free space, a ValidatingAdmissionPolicy inside refuses every create
and update with a message that says why; deletes go through, so the tenant can make room.
Once space is back the policy goes, and the API takes writes again.
"""

import asyncio
import logging
import shutil
from pathlib import Path

from subkube.kube.resource import Resource
from subkube.kube.rest import TRANSIENT, ApiError, Kube
from subkube.log import kv

log = logging.getLogger(__name__)

POLICIES = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicies",
    "ValidatingAdmissionPolicy",
    namespaced=False,
)
BINDINGS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicybindings",
    "ValidatingAdmissionPolicyBinding",
    namespaced=False,
)
NAME = "subkube-store-disk-full"
CHECK_EVERY = 1.0
# The floor: 256 MiB, or a tenth of a small disk.
FLOOR_BYTES = 256 * 1024 * 1024
FLOOR_FRACTION = 0.10
MIB = 1024 * 1024


def floor(total: int) -> int:
    return int(min(FLOOR_BYTES, total * FLOOR_FRACTION))


def refusal(path: Path, free: int, total: int) -> str:
    return (
        f"the vcluster's store is out of disk space ({free // MIB} MiB free under {path}, "
        f"writes resume above {floor(total) // MIB} MiB): free space, or delete objects"
    )


def policy(message: str) -> dict[str, object]:
    return {
        "apiVersion": POLICIES.api_version,
        "kind": POLICIES.kind,
        "metadata": {"name": NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["*/*"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": message, "reason": "Forbidden"}],
        },
    }


def binding() -> dict[str, object]:
    return {
        "apiVersion": BINDINGS.api_version,
        "kind": BINDINGS.kind,
        "metadata": {"name": NAME},
        "spec": {"policyName": NAME, "validationActions": ["Deny"]},
    }


class StoreGuard:
    """Watches the free space under PATH and refuses writes through VIRTUAL below the floor."""

    def __init__(self, virtual: Kube, path: Path, every: float = CHECK_EVERY) -> None:
        self.virtual = virtual
        self.path = path
        self.every = every
        # Unknown at first: the policy may be left from a run that stopped while refusing.
        self.refusing: bool | None = None

    async def check(self) -> None:
        usage = await asyncio.to_thread(shutil.disk_usage, self.path)
        low = usage.free < floor(usage.total)
        if low == self.refusing:
            return
        if low:
            message = refusal(self.path, usage.free, usage.total)
            await self.virtual.apply(POLICIES, policy(message))
            await self.virtual.apply(BINDINGS, binding())
            log.warning("store disk nearly full: refusing writes", extra=kv(why=message))
        else:
            await self.virtual.delete(BINDINGS, NAME)
            await self.virtual.delete(POLICIES, NAME)
            if self.refusing:
                log.info("store disk has room again: writes taken", extra=kv(path=self.path))
        self.refusing = low

    async def run(self) -> None:
        failed = ""
        while True:
            try:
                await self.check()
                failed = ""
            except (ApiError, *TRANSIENT) as exc:
                # Said once, not every second it goes on.
                if str(exc) != failed:
                    log.warning("store guard could not act", extra=kv(error=str(exc)))
                failed = str(exc)
            await asyncio.sleep(self.every)
