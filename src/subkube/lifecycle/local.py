"""`--driver local`: the runner is a detached process on this machine."""

import asyncio
from pathlib import Path

from subkube import daemonize
from subkube.config.model import Config
from subkube.daemonize import pid_alive
from subkube.kube.resource import SERVICEACCOUNTS, SERVICES
from subkube.lifecycle.driver import Driver, Phase
from subkube.runner import hostside
from subkube.runner.state import VClusterState, load_state, vcluster_dir

DAEMON_MODULE = "subkube.runner.daemon"


class LocalDriver(Driver):
    name = "local"

    async def _install(
        self, config: Config, current: VClusterState | None, timeout: float, on_phase: Phase
    ) -> VClusterState:
        if current is not None and current.pid and pid_alive(current.pid):
            await asyncio.to_thread(daemonize.terminate, current.pid)
        return await self._start(timeout, on_phase)

    async def _stop(self) -> None:
        if self.state.pid and pid_alive(self.state.pid):
            await asyncio.to_thread(daemonize.terminate, self.state.pid)

    async def _start(self, timeout: float, on_phase: Phase) -> VClusterState:
        s = self.state
        directory = vcluster_dir(s.namespace, s.name)
        log_path = directory / "vcluster.log"
        args = [
            "--name",
            s.name,
            "--namespace",
            s.namespace,
            "--host-kubeconfig",
            s.host_kubeconfig,
            "--timeout",
            str(timeout),
            "--config",
            str(directory / "config.json"),
        ]
        if s.host_context:
            args += ["--host-context", s.host_context]
        proc = daemonize.spawn(DAEMON_MODULE, args, log_path)
        self.state = await asyncio.to_thread(
            daemonize.wait_running,
            lambda: load_state(s.namespace, s.name),
            f"vcluster {s.namespace}/{s.name}",
            proc.pid,
            Path(log_path),
            timeout + 30,
            on_phase,
            proc,
        )
        return self.state

    async def _remove(self, keep_data: bool) -> None:
        s = self.state
        # Everything synced is owned by this Service: the host's garbage collector removes it.
        await self.host.delete(SERVICES, s.name, s.namespace, propagation="Background")
        await self.host.delete(
            SERVICEACCOUNTS, hostside.workload_service_account(s.name), s.namespace
        )
