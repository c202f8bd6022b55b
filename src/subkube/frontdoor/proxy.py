"""The front door while awake: the vcluster's public address, proxied byte for byte to the
API server's internal loopback port.

TCP level: the client's TLS session ends at the API server, so its identity and
certificates pass untouched. Everything that arrives here is tenant traffic (subkube's own
parts use the internal port), which makes it the place to tell whether the vcluster is in
use. A connection counts from the client's first byte for as long as it shows life, bytes
either way within LIVENESS: a held watch of kubectl or any client-go program keeps the
vcluster awake (HTTP/2 clients ping a quiet connection every 30 s), a bare TCP probe (a
readiness check) never does, and neither does a connection whose client left without
closing it (some port-forwards keep their end open). Nor do the vcluster's own clients that
come this way (its DNS pods on the host, see `quiet`).
"""

import asyncio
import contextlib
import logging
import socket
import time

from subkube.frontdoor import handover
from subkube.log import kv

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# A client that connects and says nothing for this long is no client: let it go, so it
# cannot keep the vcluster from sleeping.
FIRST_BYTE_TIMEOUT = 30.0
# Client-go pings a connection it has heard nothing on for 30 s, and waits 15 s for the
# answer: a live connection shows bytes at least this often.
LIVENESS = 45.0


def listen(address: str, port: int) -> socket.socket:
    sock = socket.create_server((address, port), backlog=512)
    sock.setblocking(False)
    return sock


class FrontDoor:
    def __init__(
        self, listeners: list[socket.socket], held: list[socket.socket], liveness: float = LIVENESS
    ) -> None:
        # Never closed while the process lives: a sleep passes them on to `asleep`.
        self.listeners = listeners
        self._held = held
        self._liveness = liveness
        self._servers: list[asyncio.Server] = []
        # Every connection; those that have spoken, with when they last carried a byte; and
        # those of subkube's own clients, which never count.
        self._connections: set[asyncio.Task[None]] = set()
        self._spoken: dict[asyncio.Task[None], float] = {}
        self._own: set[asyncio.Task[None]] = set()
        self._own_peers: dict[str, str] = {}
        self._backend = 0
        self._ready = asyncio.Event()
        self._last_traffic = time.monotonic()

    @classmethod
    def adopt(cls) -> "FrontDoor | None":
        """The listener and waiting connections `asleep` passed on, if this process just
        woke up."""
        listeners = [socket.socket(fileno=fd) for fd in handover.take(handover.LISTENERS)]
        held = [socket.socket(fileno=fd) for fd in handover.take(handover.HELD)]
        return cls(listeners, held) if listeners else None

    @classmethod
    def bind(cls, address: str, port: int, liveness: float = LIVENESS) -> "FrontDoor":
        return cls([listen(address, port)], [], liveness)

    @property
    def port(self) -> int:
        return int(self.listeners[0].getsockname()[1])

    async def start(self) -> None:
        """Accept from now on; connections wait until `open` names the API server."""
        await self._serve()
        for sock in self._held:
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock)
            self._track(asyncio.ensure_future(self._proxy(reader, writer)))
        self._held = []

    def open(self, backend_port: int) -> None:
        """The API server answers on BACKEND_PORT of loopback: serve the waiting and new
        connections there."""
        self._backend = backend_port
        self._ready.set()

    @property
    def quiet_peers(self) -> set[str]:
        return set(self._own_peers.values())

    def quiet(self, key: str, address: str | None) -> None:
        """Connections from ADDRESS are subkube's own (KEY names whose; None: no longer):
        served, never taken for a tenant's activity."""
        if address:
            self._own_peers[key] = address
        else:
            self._own_peers.pop(key, None)

    def idle_for(self) -> float:
        """Seconds since the last tenant traffic; 0 while a connection shows life."""
        now = time.monotonic()
        if any(now - last < self._liveness for last in self._spoken.values()):
            return 0.0
        return now - self._last_traffic

    async def quiesce(self, force: bool) -> bool:
        """Stop accepting, to sleep, and cut the connections. Unless FORCE, give up (and
        accept again) while one shows life or has not spoken yet (a request may be on its
        way). Later clients wait in the listen backlog for whoever holds the listener next."""
        self._close_servers()
        unheard = self._connections - self._own - set(self._spoken)
        if not force and (self.idle_for() == 0 or unheard):
            await self._serve()
            return False
        await self._cut()
        return True

    def pass_on(self) -> None:
        """Hand the listeners to the next program of this process."""
        handover.keep(handover.LISTENERS, *(s.fileno() for s in self.listeners))

    async def stop(self) -> None:
        self._close_servers()
        await self._cut()

    async def _serve(self) -> None:
        # asyncio closes a server's socket with the server: it gets a duplicate, so the
        # listener itself stays open.
        self._servers = [
            await asyncio.start_server(self._accepted, sock=s.dup(), limit=CHUNK)
            for s in self.listeners
        ]

    def _close_servers(self) -> None:
        # close() shuts the listening duplicates at once; wait_closed() would also wait for
        # the connections (Python 3.12), which quiesce may keep.
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()

    async def _cut(self) -> None:
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._connections.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._connections.discard(task)
        self._spoken.pop(task, None)
        self._own.discard(task)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._track(task)
        await self._proxy(reader, writer)

    def _traffic(self, connection: asyncio.Task[None] | None) -> None:
        if connection in self._own:
            return
        self._last_traffic = now = time.monotonic()
        if connection in self._connections:
            self._spoken[connection] = now

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = asyncio.current_task()
        upstream: asyncio.StreamWriter | None = None
        peer = writer.get_extra_info("peername")
        if connection is not None and peer and peer[0] in self.quiet_peers:
            self._own.add(connection)
        try:
            try:
                first = await asyncio.wait_for(reader.read(CHUNK), FIRST_BYTE_TIMEOUT)
            except TimeoutError:
                return
            if not first:
                return
            self._traffic(connection)
            await self._ready.wait()
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self._backend)
            upstream.write(first)
            await asyncio.gather(
                self._pipe(reader, upstream, connection), self._pipe(up_reader, writer, connection)
            )
        except OSError as exc:
            log.debug("front door connection failed", extra=kv(error=str(exc)))
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        connection: asyncio.Task[None] | None,
    ) -> None:
        try:
            while data := await src.read(CHUNK):
                self._traffic(connection)
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()
        except OSError:
            # One side is gone: so is the other, or its reader would wait for ever.
            dst.close()
            with contextlib.suppress(OSError):
                await dst.wait_closed()
