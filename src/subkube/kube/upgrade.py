"""Raw HTTP/1.1 connections to an API server, for the streaming sub-resources.

exec, attach and port-forward switch protocols (`101 Switching Protocols` to SPDY or a
WebSocket) and then carry a framed byte stream. A proxy that must pass that stream on
untouched needs the socket itself, opened with the client's own TLS and credentials;
kubernetes_asyncio only offers plain requests and its own WebSocket client.
"""

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from subkube.kube.upstream import ApiClient, Configuration

# A response head or body beyond this is not what an API server sends for these requests.
MAX_BODY = 1 << 20
READ_SIZE = 1 << 16


def ssl_context(cfg: Configuration) -> ssl.SSLContext:
    """The TLS settings kubernetes_asyncio's own REST client derives from a kubeconfig."""
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, keyfile=cfg.key_file)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Reply:
    """The API server's answer. For 101, READER/WRITER carry the switched protocol and
    LEFTOVER holds what arrived right behind the head; otherwise BODY is the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    leftover: bytes = b""
    body: bytes = b""

    @property
    def switched(self) -> bool:
        return self.status == 101

    async def close(self) -> None:
        await close_writer(self.writer)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


async def open_upgrade(
    api: ApiClient,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    *,
    timeout: float = 30,
) -> Reply:
    """Send METHOD TARGET (path and query) with HEADERS (the Upgrade proposal) and the
    client's credentials; return the reply, its connection still open when it switched."""
    cfg = api.configuration
    url = urlsplit(cfg.host)
    host = url.hostname or "127.0.0.1"
    port = url.port or 443
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            host, port, ssl=ssl_context(cfg), server_hostname=cfg.tls_server_name or host
        ),
        timeout,
    )
    try:
        conn = h11.Connection(h11.CLIENT)
        sent = [("Host", url.netloc), *headers]
        auth = (await cfg.auth_settings()).get("BearerToken")
        if auth and auth.get("value"):
            sent.append(("Authorization", auth["value"]))
        writer.write(conn.send(h11.Request(method=method, target=target, headers=sent)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return await asyncio.wait_for(_read_reply(conn, reader, writer), timeout)
    except BaseException:
        await close_writer(writer)
        raise


async def _read_reply(
    conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Reply:
    head: h11.Response | h11.InformationalResponse | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
            leftover, _closed = conn.trailing_data
            return Reply(101, list(event.headers), reader, writer, leftover=bytes(leftover))
        if isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
            if len(body) > MAX_BODY:
                break
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    assert head is not None
    return Reply(head.status_code, list(head.headers), reader, writer, body=body)


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Copy bytes both ways until either side closes, then close both. TLS cannot half-close,
    so the first end of stream ends the whole exchange (as the API server's own proxy does)."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while data := await src.read(READ_SIZE):
                dst.write(data)
                await dst.drain()

    tasks = [asyncio.create_task(pump(a[0], b[1])), asyncio.create_task(pump(b[0], a[1]))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(close_writer(a[1]), close_writer(b[1]))
