"""`--driver local`: the runner is a detached process on this machine."""

import asyncio
from collections.abc import Callable
from pathlib import Path

from subkube import daemonize
from subkube.aio import poll_until
from subkube.config.model import Config
from subkube.daemonize import pid_alive
from subkube.errors import SubkubeError
from subkube.kube.resource import SERVICEACCOUNTS, SERVICES
from subkube.lifecycle.driver import Driver, Phase
from subkube.runner import hostside, renewal
from subkube.runner.sleep import ask_to_sleep
from subkube.runner.state import VClusterState, controlplane_dir, load_state, vcluster_dir
from subkube.snapshot import pending
from subkube.snapshot.capture import take
from subkube.snapshot.urls import Location, S3Settings

DAEMON_MODULE = "subkube.runner.daemon"


class LocalDriver(Driver):
    name = "local"

    async def _install(
        self, config: Config, current: VClusterState | None, timeout: float, on_phase: Phase
    ) -> VClusterState:
        if config.highly_available:
            raise SubkubeError(
                "controlPlane.highAvailability needs --driver helm: the local driver runs "
                "one process"
            )
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

    async def rotate_certs(self, *, ca: bool) -> None:
        await renewal.rotate(self.state.namespace, self.state.name, ca=ca)

    async def snapshot(self, to: str, s3: S3Settings) -> Location:
        s = self.state
        return await take(
            controlplane_dir(s.namespace, s.name),
            self.config(),
            vcluster=s.name,
            namespace=s.namespace,
            to=to,
            s3=s3,
        )

    async def restore(
        self, archive: Path, config: Config, timeout: float, on_phase: Phase
    ) -> VClusterState:
        pending.check(archive, config)  # before the stop: a refused archive leaves it running
        await self._stop()
        pending.stage(archive, controlplane_dir(self.state.namespace, self.state.name), config)
        return await self._start(timeout, on_phase)

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
        # Staged before the runner's first start, which then starts on the restored store.
        s = self.state
        pending.stage(archive, controlplane_dir(s.namespace, s.name), config)
        return await self.create(
            config,
            current=None,
            create_namespace=create_namespace,
            timeout=timeout,
            on_phase=on_phase,
            on_warning=on_warning,
        )

    async def _sleep(self) -> None:
        s = self.state
        self.state = await ask_to_sleep(s.namespace, s.name)

    async def _awake(self, timeout: float) -> None:
        s = self.state

        async def running() -> bool:
            now = load_state(s.namespace, s.name)
            if now is not None and now.running and now.phase == "Running":
                self.state = now
                return True
            return False

        if not await poll_until(running, timeout, 0.3):
            raise SubkubeError(f"vcluster {s.name} answered but did not say it runs; see its log")

    async def _remove(self, keep_data: bool) -> None:
        s = self.state
        # Everything synced is owned by this Service: the host's garbage collector removes it.
        await self.host.delete(SERVICES, s.name, s.namespace, propagation="Background")
        await self.host.delete(
            SERVICEACCOUNTS, hostside.workload_service_account(s.name), s.namespace
        )
