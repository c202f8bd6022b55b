"""The lifecycle of a vcluster as one interface, whatever runs it.

A command builds one Driver on one host session. The steps every driver shares (checks,
the namespace, the tenant's pods, what the vcluster owns on the host) live here; each driver
says only how its runner is installed, stopped, started and removed.
"""

import asyncio
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable

from subkube import daemonize
from subkube.config.model import Config
from subkube.daemonize import pid_alive
from subkube.kube.rest import Kube
from subkube.lifecycle import hostops
from subkube.runner.state import VClusterState, known_vclusters, vcluster_dir

Phase = Callable[[str], None] | None


class Driver(ABC):
    name: str

    def __init__(self, host: Kube, state: VClusterState) -> None:
        self.host = host
        self.state = state

    async def create(
        self,
        config: Config,
        *,
        current: VClusterState | None,
        create_namespace: bool,
        timeout: float,
        on_phase: Phase,
        on_warning: Callable[[str], None] | None,
    ) -> VClusterState:
        """Install the vcluster, or apply new config to CURRENT (an upgrade)."""
        await hostops.check_host_definitions(self.host, config.sync)
        level = config.policies.podSecurityStandard
        warning = await hostops.prepare_namespace(
            self.host, self.state.namespace, create_namespace, level
        )
        if warning and on_warning:
            on_warning(warning)
        # The runner gets the effective config (files, --set and defaults merged and
        # checked), kept beside its data so a restart runs with what was asked at create.
        config_path = vcluster_dir(self.state.namespace, self.state.name) / "config.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config.model_dump_json(indent=2))
        return await self._install(config, current, timeout, on_phase)

    async def pause(self) -> int:
        """Stop the runner and remove the tenant's host pods (their virtual pods stay in
        the store); how many host pods were removed."""
        if self.state.phase == "Paused":
            return 0
        await self._stop()
        removed = await hostops.delete_tenant_pods(self.host, self.state)
        self.state.phase, self.state.pid, self.state.components = "Paused", None, {}
        self.state.save()
        return removed

    async def resume(self, timeout: float, on_phase: Phase) -> VClusterState:
        if self.state.running:
            return self.state
        return await self._start(timeout, on_phase)

    async def delete(self, *, keep_data: bool, delete_namespace: bool) -> bool:
        """Remove the vcluster and everything it made on the host; True if the namespace
        went too (only if asked, subkube created it and no other vcluster lives there)."""
        s = self.state
        if s.pid and pid_alive(s.pid):
            await asyncio.to_thread(daemonize.terminate, s.pid)
        await self._remove(keep_data)
        await hostops.delete_cluster_objects(self.host, s)
        await hostops.wait_collected(self.host, s)
        others = [n for ns, n in known_vclusters() if ns == s.namespace and n != s.name]
        gone = (
            delete_namespace
            and not others
            and await hostops.delete_namespace_if_ours(self.host, s.namespace)
        )
        if not keep_data:
            shutil.rmtree(vcluster_dir(s.namespace, s.name), ignore_errors=True)
        return gone

    @abstractmethod
    async def _install(
        self, config: Config, current: VClusterState | None, timeout: float, on_phase: Phase
    ) -> VClusterState:
        """Start the runner with CONFIG (replacing CURRENT's) and wait until it serves."""

    @abstractmethod
    async def _stop(self) -> None:
        """Stop the runner; its data stays."""

    @abstractmethod
    async def _start(self, timeout: float, on_phase: Phase) -> VClusterState:
        """Start a stopped runner again and wait until it serves."""

    @abstractmethod
    async def _remove(self, keep_data: bool) -> None:
        """Remove what only this driver made (the runner's own host objects)."""
