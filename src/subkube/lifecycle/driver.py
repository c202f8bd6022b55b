"""The lifecycle of a vcluster as one interface, whatever runs it.

A command builds one Driver on one host session. The steps every driver shares (checks,
the namespace, the tenant's pods, what the vcluster owns on the host) live here; each driver
says only how its runner is installed, stopped, started and removed.
"""

import asyncio
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from subkube import daemonize
from subkube.config.model import Config
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.rest import Kube
from subkube.lifecycle import hostops
from subkube.runner import hostside
from subkube.runner import sleep as runner_sleep
from subkube.runner.state import VClusterState, known_vclusters, vcluster_dir
from subkube.snapshot.urls import Location, S3Settings

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
        if current is not None:
            self._check_replicas_kept(config)
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
        # Owner-only before anything is written, as the vcluster's keys are: it may hold
        # an external database's password.
        config_path.touch(mode=0o600)
        config_path.chmod(0o600)
        config_path.write_text(config.model_dump_json(indent=2))
        return await self._install(config, current, timeout, on_phase)

    async def pause(self) -> int:
        """Stop the runner and remove the tenant's host pods; how many were removed. At
        resume the syncer finds their host copies gone, as after a node loss: controllers
        inside make new pods, a bare pod is gone."""
        if self.state.phase == "Paused":
            return 0
        await self._stop()
        s = self.state
        removed = await hostside.delete_tenant_pods(self.host, s.namespace, s.name)
        self.state.phase, self.state.pid, self.state.components = "Paused", None, {}
        self.state.save()
        return removed

    async def resume(self, timeout: float, on_phase: Phase) -> VClusterState:
        if self.state.running:
            return self.state
        if self.state.sleeping:
            await self.wake(timeout)
            return self.state
        return await self._start(timeout, on_phase)

    async def observe(self) -> VClusterState:
        """The state as the runner has it now (the chart's runner sleeps on its own)."""
        return self.state

    async def sleep(self) -> VClusterState:
        """Put the vcluster to sleep now, as its autoSleep would (reason: manual)."""
        await self.observe()
        if self.state.sleeping:
            return self.state
        if not self.state.running:
            raise SubkubeError(
                f"vcluster {self.state.name} is {self.state.phase.lower()}: only a running "
                "one goes to sleep"
            )
        await self._sleep()
        return self.state

    async def wake(self, timeout: float) -> float:
        """Wake the vcluster as any client does, with a request through its address (a
        running one just answers); the seconds until it answered."""
        await self.observe()
        if not (self.state.sleeping or self.state.running):
            raise SubkubeError(
                f"vcluster {self.state.name} is {self.state.phase.lower()}; `subkube resume "
                f"{self.state.name} -n {self.state.namespace}` starts it"
            )
        took = await runner_sleep.wake(Path(self.state.kubeconfig), timeout)
        await self._awake(timeout)
        return took

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

    def _check_replicas_kept(self, config: Config) -> None:
        """An etcd cluster is made with its members: another count would leave the
        replicas' members out of it, or a majority missing."""
        try:
            before = self.config().controlPlane.highAvailability.replicas
        except SubkubeError:
            return
        after = config.controlPlane.highAvailability.replicas
        if before != after:
            raise SubkubeError(
                f"controlPlane.highAvailability.replicas cannot change from {before} to "
                f"{after} on a running vcluster yet: keep {before}, or delete and create it"
            )

    def config(self) -> Config:
        """The effective config the vcluster was created (or last upgraded) with."""
        path = vcluster_dir(self.state.namespace, self.state.name) / "config.json"
        try:
            return Config.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:
            raise SubkubeError(
                f"cannot read the config of vcluster {self.state.name} ({exc})"
            ) from exc

    async def create_restored(
        self,
        archive: Path,
        config: Config,
        *,
        create_namespace: bool,
        timeout: float,
        on_phase: Phase,
        on_warning: Callable[[str], None] | None,
    ) -> VClusterState:
        """A new vcluster with CONFIG running on the store of ARCHIVE: made, then restored."""
        await self.create(
            config,
            current=None,
            create_namespace=create_namespace,
            timeout=timeout,
            on_phase=on_phase,
            on_warning=on_warning,
        )
        return await self.restore(archive, config, timeout, on_phase)

    @abstractmethod
    async def snapshot(self, to: str, s3: S3Settings) -> Location:
        """Write a consistent snapshot of the vcluster's store and config to the URL TO (its
        store read while it runs, or its files while it is stopped); where it went."""

    @abstractmethod
    async def restore(
        self, archive: Path, config: Config, timeout: float, on_phase: Phase
    ) -> VClusterState:
        """Run the vcluster on the store of ARCHIVE (checked against CONFIG, the vcluster's):
        the runner puts the store back at its next start (snapshot/pending.py)."""

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
    async def _sleep(self) -> None:
        """Have the running runner go to sleep, and wait until it has."""

    @abstractmethod
    async def _awake(self, timeout: float) -> None:
        """After the request that woke it was answered: until the runner says it runs."""

    @abstractmethod
    async def _remove(self, keep_data: bool) -> None:
        """Remove what only this driver made (the runner's own host objects)."""

    @abstractmethod
    async def rotate_certs(self, *, ca: bool) -> None:
        """Have the running runner reissue its leaf certificates (CA: its CAs and every key
        too), through the code path of its own renewals (runner/renewal.py)."""
