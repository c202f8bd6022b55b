"""The front door: the proxy and its idea of activity, the sleep and wake decisions on a
fake clock, descriptors handed across exec, and `asleep` holding and handing back a port."""

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from subkube.daemonize import pid_alive
from subkube.frontdoor import asleep, clock, policy
from subkube.frontdoor.proxy import FrontDoor
from subkube.kube.memory import Selector
from subkube.syncer.dns import coredns
from subkube.syncer.resources.pods import translate as pods

UTC = dt.UTC


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    """An API server stand-in on loopback that sends back what it gets."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def door() -> AsyncIterator[FrontDoor]:
    d = FrontDoor.bind("127.0.0.1", 0, liveness=1.0)
    await d.start()
    yield d
    await d.stop()
    for sock in d.listeners:
        sock.close()


async def roundtrip(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    got = await asyncio.wait_for(reader.readexactly(len(data)), 10)
    writer.close()
    return got


async def test_clients_wait_until_the_api_server_is_there(door: FrontDoor, echo: int) -> None:
    pending = asyncio.ensure_future(roundtrip(door.port, b"GET /version"))
    await asyncio.sleep(0.2)
    assert not pending.done(), "nothing answers before open()"
    door.open(echo)
    assert await pending == b"GET /version"


async def test_a_live_connection_is_activity_and_a_probe_is_not(door: FrontDoor, echo: int) -> None:
    door.open(echo)
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    for _ in range(3):
        # A held watch, pinged now and then: busy all along.
        writer.write(b"ping")
        await reader.readexactly(4)
        await asyncio.sleep(0.6)
        assert door.idle_for() == 0
    writer.close()
    await asyncio.sleep(0.3)
    quiet = door.idle_for()
    assert quiet > 0
    # A readiness probe: connect, say nothing, go.
    _, probe = await asyncio.open_connection("127.0.0.1", door.port)
    probe.close()
    await asyncio.sleep(0.3)
    assert door.idle_for() > quiet, "a probe does not count as traffic"


async def test_a_connection_left_open_without_life_is_no_activity(
    door: FrontDoor, echo: int
) -> None:
    door.open(echo)
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"get")
    await reader.readexactly(3)
    # Its client is gone, but the port-forward in between keeps it open.
    await asyncio.sleep(1.3)
    assert door.idle_for() > 1.0
    assert await door.quiesce(force=False)
    assert await reader.read() == b"", "cut, to sleep"


async def test_quiesce_waits_for_live_connections_unless_forced(door: FrontDoor, echo: int) -> None:
    door.open(echo)
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"a")
    await reader.readexactly(1)
    assert not await door.quiesce(force=False)
    # Connected, not yet spoken: a request may be on its way.
    _, quiet = await asyncio.open_connection("127.0.0.1", door.port)
    await asyncio.sleep(1.3)
    assert not await door.quiesce(force=False)
    quiet.close()
    assert await roundtrip(door.port, b"still served") == b"still served"
    assert await door.quiesce(force=True)
    assert await reader.read() == b"", "a forced sleep cuts the connection"
    # The listener stays open: a client now waits in the backlog for the next program.
    with socket.create_connection(("127.0.0.1", door.port), timeout=5):
        pass


async def test_subkubes_own_clients_are_served_but_are_no_activity(
    door: FrontDoor, echo: int
) -> None:
    door.open(echo)
    door.quiet("coredns-pod-uid", "127.0.0.1")
    await asyncio.sleep(1.1)
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"watch")
    assert await reader.readexactly(5) == b"watch"
    assert door.idle_for() > 1.0
    assert await door.quiesce(force=False), "its watch does not keep the vcluster awake"
    door.quiet("coredns-pod-uid", None)
    assert door.quiet_peers == set()


def test_asleep_closes_connections_of_subkubes_own_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("2026-03-02T12:00:00+00:00")
    monkeypatch.setenv(clock.TEST_CLOCK_ENV, str(clock_file))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    own = socket.create_connection(listener.getsockname(), timeout=10)
    own.sendall(b"GET")
    waiting: list[socket.socket] = []
    with ThreadPoolExecutor(1) as pool:
        woke = pool.submit(
            asleep.watch,
            [listener],
            waiting,
            schedule="0 13 * * *",
            timezone="UTC",
            since=at("2026-03-02 12:00"),
            quiet={"127.0.0.1"},
        )
        try:
            # Closed with its request unread: a reset, or an end.
            with contextlib.suppress(ConnectionResetError):
                assert own.recv(10) == b"", "closed, not woken for"
        finally:
            clock_file.write_text("2026-03-02T13:00:00+00:00")
        assert woke.result(timeout=10) == "schedule"
    assert waiting == []
    own.close()
    listener.close()


def test_dns_pods_of_the_vcluster_are_its_own_clients() -> None:
    pod = {
        "metadata": {"labels": {"subkube.io/namespace": "kube-system", "k8s-app": "kube-dns"}},
        "status": {"podIP": "10.244.0.9"},
    }
    assert coredns.host_ip(pod) == "10.244.0.9"
    pod["metadata"]["labels"]["subkube.io/namespace"] = "default"
    assert coredns.host_ip(pod) is None, "a tenant's look-alike in another namespace"


def test_the_runner_watches_exactly_the_host_copies_of_its_dns_pods() -> None:
    """The front door learns of them through a host watch of its own (coredns.host_selector)."""
    (deployment,) = [o for p, o in coredns.manifests() if p == "deployments"]
    template = deployment["spec"]["template"]
    vpod = {
        "metadata": {**template["metadata"], "name": "coredns-1", "namespace": "kube-system"},
        "spec": template["spec"],
    }
    host = pods.to_host(vpod, pods_ctx())
    host["status"] = {"podIP": "10.244.0.9"}
    selector = Selector.parse(coredns.host_selector("vc1"))
    assert selector.matches(host)
    assert coredns.host_ip(host) == "10.244.0.9"
    other = pods.to_host(vpod, pods_ctx(vcluster="vc2"))
    assert not selector.matches(other), "another vcluster's DNS pods in the same namespace"
    vpod["metadata"]["namespace"] = "default"
    assert not selector.matches(pods.to_host(vpod, pods_ctx())), "a tenant's look-alike"


def pods_ctx(vcluster: str = "vc1") -> pods.PodContext:
    return pods.PodContext(
        vcluster=vcluster,
        host_namespace="team-a",
        owner=None,
        api_service_ip="10.96.0.10",
        dns_service_ip="10.96.0.53",
        workload_service_account="w",
    )


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "now", "expected"),
    [
        ("2026-03-02 19:00", "2026-03-02 19:59:59", False),
        ("2026-03-02 19:00", "2026-03-02 20:00", True),
        # Woken after tonight's sleep: the next one is tomorrow's.
        ("2026-03-02 20:00:30", "2026-03-02 23:00", False),
        ("2026-03-02 20:00:30", "2026-03-03 20:00", True),
        # A clock that jumps past the minute still fires.
        ("2026-03-02 19:00", "2026-03-05 03:00", True),
    ],
)
def test_a_schedule_fires_once_it_passed_since(since: str, now: str, expected: bool) -> None:
    assert policy.fired("0 20 * * *", "UTC", at(since), at(now)) is expected


def test_schedules_are_read_in_their_time_zone() -> None:
    # 20:00 in Berlin (winter) is 19:00 UTC.
    assert policy.fired(
        "0 20 * * *", "Europe/Berlin", at("2026-01-10 18:00"), at("2026-01-10 19:00")
    )
    assert not policy.fired(
        "0 20 * * *", "Europe/Berlin", at("2026-01-10 18:00"), at("2026-01-10 18:59")
    )
    assert not policy.fired("", "UTC", at("2000-01-01 00:00"), at("2030-01-01 00:00"))


@pytest.mark.parametrize(
    ("idle", "after", "now", "expected"),
    [
        (19.9, 20.0, "2026-03-02 12:00", None),
        (20.0, 20.0, "2026-03-02 12:00", policy.INACTIVITY),
        (10_000.0, 0.0, "2026-03-02 12:00", None),
        (0.0, 20.0, "2026-03-02 20:00", policy.SCHEDULE),
    ],
)
def test_the_reason_to_sleep(idle: float, after: float, now: str, expected: str | None) -> None:
    assert (
        policy.sleep_reason(
            idle_for=idle,
            after_inactivity=after,
            schedule="0 20 * * *",
            timezone="UTC",
            awake_since=at("2026-03-02 08:00"),
            now=at(now),
        )
        == expected
    )


def test_the_test_clock_is_read_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(clock.TEST_CLOCK_ENV, raising=False)
    assert abs((clock.now() - dt.datetime.now(UTC)).total_seconds()) < 5
    path = tmp_path / "now"
    path.write_text("2026-03-02T20:00:00+01:00")
    monkeypatch.setenv(clock.TEST_CLOCK_ENV, str(path))
    assert clock.now() == at("2026-03-02 19:00")


# A stand-in for the runner: listens (or takes the listener it is handed), and execs itself
# into `asleep` with its own command line after `--`, as the runner does.
RUNNER = textwrap.dedent(
    """
    import signal, socket, sys
    from pathlib import Path
    from subkube.frontdoor import asleep, clock, handover

    state = Path(sys.argv[1])
    taken = handover.take(handover.LISTENERS)
    held = [socket.socket(fileno=fd) for fd in handover.take(handover.HELD)]
    listener = socket.socket(fileno=taken[0]) if taken else socket.create_server(("127.0.0.1", 0))
    if held:
        conn = held[0]
        conn.setblocking(True)
        conn.sendall(b"awake, you said: " + conn.recv(100))
        conn.close()
    state.write_text('{"phase": "Sleeping", "pid": %d}' % __import__("os").getpid())
    (state.parent / "port").write_text(str(listener.getsockname()[1]))
    (state.parent / "runs").open("a").write(f"{len(held)} held\\n")
    handover.keep(handover.LISTENERS, listener.fileno())
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    handover.exec_into(asleep.argv(
        state=state, since=clock.now(), schedule=sys.argv[2], timezone="UTC", quiet=set(),
    ))
    """
)


SLEPT_AT = "2026-03-02T20:00:00+00:00"


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    clock_file = tmp_path / "clock"
    clock_file.write_text(SLEPT_AT)
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path / "state.json"), "0 8 * * *"],
        env={**os.environ, clock.TEST_CLOCK_ENV: str(clock_file)},
        stderr=(tmp_path / "log").open("w"),
    )
    try:
        yield proc, tmp_path
    finally:
        proc.kill()
        proc.wait()


def wait_until(what: str, check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def said_asleep(tmp_path: Path, times: int = 1) -> bool:
    """Whether `asleep` has said so TIMES times in the log: its signal handlers are set."""
    return (tmp_path / "log").read_text().count("msg=asleep") >= times


def runs(tmp_path: Path) -> list[str]:
    path = tmp_path / "runs"
    return path.read_text().splitlines() if path.exists() else []


def test_asleep_holds_the_port_and_the_first_request_wakes_the_runner(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, tmp_path = sleeper
    wait_until("the stand-in to sleep", lambda: said_asleep(tmp_path))
    port = int((tmp_path / "port").read_text())
    # A probe neither wakes it nor is kept.
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    time.sleep(0.5)
    assert runs(tmp_path) == ["0 held"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"hello")
        client.settimeout(20)
        assert client.recv(100) == b"awake, you said: hello", "the waking request is served"
    # Same process, same port, and asleep again (the stand-in sleeps at once).
    wait_until("the stand-in to sleep again", lambda: said_asleep(tmp_path, 2))
    assert runs(tmp_path) == ["0 held", "1 held"]
    assert int((tmp_path / "port").read_text()) == port
    assert proc.poll() is None


def test_asleep_wakes_when_the_wake_schedule_fires(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, tmp_path = sleeper
    wait_until("the stand-in to sleep", lambda: said_asleep(tmp_path))
    (tmp_path / "clock").write_text("2026-03-03T07:59:00+00:00")
    time.sleep(1.5)
    assert runs(tmp_path) == ["0 held"], "not before 08:00"
    (tmp_path / "clock").write_text("2026-03-03T08:00:00+00:00")
    wait_until("the scheduled wake", lambda: len(runs(tmp_path)) == 2)
    assert proc.poll() is None, "the same process"


def test_sigterm_while_asleep_stops_and_says_so(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, tmp_path = sleeper
    wait_until("the stand-in to sleep", lambda: said_asleep(tmp_path))
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    assert pid_alive(proc.pid), "a sleep request to a sleeping vcluster is ignored"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert json.loads((tmp_path / "state.json").read_text())["phase"] == "Stopped"


def test_asleep_imports_nothing_heavy() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, subkube.frontdoor.asleep; print(' '.join(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = {"asyncio", "pydantic", "aiohttp", "kubernetes_asyncio", "yaml", "typer", "rich"}
    assert heavy.isdisjoint(out)
