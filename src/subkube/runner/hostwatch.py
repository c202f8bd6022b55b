"""Whether a vcluster still has its host: its namespace, its Service, an API that answers.

A runner whose host namespace was deleted, or whose host stays unreachable past the
configured grace, would otherwise run for ever with nothing to sync to. It stops instead,
and records why (`subkube list` and `describe` show it).
"""

import asyncio
import logging
from dataclasses import dataclass

from subkube.kube.resource import NAMESPACES, SERVICES
from subkube.kube.rest import TRANSIENT, ApiError, Kube
from subkube.log import kv

log = logging.getLogger(__name__)

CHECK_EVERY = 2.0
# One look that hangs (a host API server stopped, not gone) counts as unreachable.
LOOK_TIMEOUT = 10.0


@dataclass
class Forbidden:
    """Whether the host has refused to show the namespace (then it is not asked again)."""

    namespace: bool = False


async def gone_why(
    host: Kube, namespace: str, service: str, forbidden: Forbidden | None = None
) -> str:
    """Why the vcluster has lost its place on the host, or "" while it has it. Raises what
    the host's API raises when it does not answer."""
    forbidden = forbidden or Forbidden()
    if not forbidden.namespace:
        try:
            ns = await host.get_or_none(NAMESPACES, namespace)
        except ApiError as exc:
            # The chart's runner has a Role in its namespace only: its Service tells instead.
            if exc.status != 403:
                raise
            forbidden.namespace = True
        else:
            if ns is None:
                return f"host namespace {namespace} was deleted"
            if ns["metadata"].get("deletionTimestamp"):
                return f"host namespace {namespace} is being deleted"
    if await host.get_or_none(SERVICES, service, namespace) is None:
        return f"its host Service {namespace}/{service} was deleted"
    return ""


def seconds(value: float) -> str:
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.0f}m"


async def lost(
    host: Kube, namespace: str, service: str, grace: float | None, every: float = CHECK_EVERY
) -> str:
    """Return, once it is so, why this runner has no host left: its namespace or Service
    deleted, or (with a GRACE, in seconds) its API unreachable for that long."""
    loop = asyncio.get_running_loop()
    unreachable_since: float | None = None
    forbidden = Forbidden()
    while True:
        try:
            async with asyncio.timeout(LOOK_TIMEOUT):
                why = await gone_why(host, namespace, service, forbidden)
            if why:
                return why
            if unreachable_since is not None:
                log.info("host API answers again", extra=kv(namespace=namespace))
            unreachable_since = None
        except (ApiError, *TRANSIENT) as exc:
            now = loop.time()
            if unreachable_since is None:
                unreachable_since = now
                log.warning(
                    "host API unreachable",
                    extra=kv(namespace=namespace, error=str(exc) or type(exc).__name__),
                )
            if grace is not None and now - unreachable_since >= grace:
                return (
                    f"host API unreachable for {seconds(now - unreachable_since)} "
                    f"(grace {seconds(grace)}): {str(exc) or type(exc).__name__}"
                )
        await asyncio.sleep(every)
