"""One replica at a time does the syncing: leader election over a Lease in the host
namespace, the way client-go's leaderelection does it.

A candidate takes the Lease when nobody holds it or when the holder has not renewed it for
its lease duration, measured on the candidate's own clock from when it last saw the record
change (so clocks need not agree). The leader renews every RETRY seconds and gives up
leadership when it could not renew for RENEW_DEADLINE; on a clean stop it releases the Lease,
so a standby takes over within RETRY seconds instead of a lease duration.
"""

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from subkube.kube.resource import LEASES
from subkube.kube.rest import TRANSIENT, ApiError, Kube, Obj
from subkube.log import kv
from subkube.syncer import names

log = logging.getLogger(__name__)

LEASE_SECONDS = 15
RENEW_DEADLINE = 10.0
RETRY = 2.0


def lease_name(vcluster: str) -> str:
    return f"{vcluster}-syncer"


def micro_time(now: dt.datetime) -> str:
    """A Lease's MicroTime."""
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claimed(spec: dict[str, Any], identity: str, now: str) -> dict[str, Any]:
    """SPEC of a Lease taken (or renewed) by IDENTITY at NOW."""
    taking = spec.get("holderIdentity") != identity
    return {
        **spec,
        "holderIdentity": identity,
        "leaseDurationSeconds": LEASE_SECONDS,
        "renewTime": now,
        "acquireTime": now if taking else spec.get("acquireTime", now),
        "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (1 if taking and spec else 0),
    }


class Elector:
    def __init__(
        self, host: Kube, namespace: str, name: str, identity: str, owner: Obj | None = None
    ) -> None:
        self.host = host
        self.owner = owner
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._observed: tuple[str, str] | None = None
        self._observed_at = 0.0

    async def acquire(self) -> None:
        """Return once this candidate holds the Lease."""
        while True:
            if await self._try():
                break
            await asyncio.sleep(RETRY)
        log.info("leading", extra=kv(lease=self.name, identity=self.identity))

    async def hold(self) -> None:
        """Renew the Lease; return when leadership is lost (not renewed for RENEW_DEADLINE,
        or taken by another)."""
        renewed = time.monotonic()
        while time.monotonic() - renewed < RENEW_DEADLINE:
            await asyncio.sleep(RETRY)
            if await self._try():
                renewed = time.monotonic()
        log.error("leadership lost", extra=kv(lease=self.name, identity=self.identity))

    async def release(self) -> None:
        """Hand the Lease back, if this candidate holds it."""
        try:
            lease = await self.host.get_or_none(LEASES, self.name, self.namespace)
            spec = (lease or {}).get("spec") or {}
            if lease is None or spec.get("holderIdentity") != self.identity:
                return
            now = micro_time(dt.datetime.now(dt.UTC))
            lease["spec"] = {
                **spec,
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": now,
            }
            await self.host.replace(LEASES, lease)
        except (ApiError, *TRANSIENT) as exc:
            log.warning("lease not released", extra=kv(lease=self.name, error=str(exc)))

    async def _try(self) -> bool:
        now = micro_time(dt.datetime.now(dt.UTC))
        try:
            lease = await self.host.get_or_none(LEASES, self.name, self.namespace)
            if lease is None:
                await self.host.create(LEASES, self._new_lease(now), self.namespace)
                return True
            spec: Obj = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            record = (holder, str(spec.get("renewTime", "")))
            if record != self._observed:
                self._observed, self._observed_at = record, time.monotonic()
            duration = float(spec.get("leaseDurationSeconds") or LEASE_SECONDS)
            held = holder and holder != self.identity
            if held and time.monotonic() < self._observed_at + duration:
                return False
            lease["spec"] = claimed(spec, self.identity, now)
            updated = await self.host.replace(LEASES, lease)
        except (ApiError, *TRANSIENT) as exc:
            # A conflict is another candidate's write winning: nothing to report.
            if not (isinstance(exc, ApiError) and exc.conflict):
                log.warning("lease not updated", extra=kv(lease=self.name, error=str(exc)))
            return False
        spec = updated["spec"]
        self._observed = (self.identity, str(spec["renewTime"]))
        self._observed_at = time.monotonic()
        return True

    def _new_lease(self, now: str) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                # Goes with the vcluster's Service, as everything it made on the host.
                "ownerReferences": [names.owner_reference(self.owner)] if self.owner else [],
            },
            "spec": claimed({}, self.identity, now),
        }
