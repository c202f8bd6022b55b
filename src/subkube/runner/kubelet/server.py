"""The kubelet endpoint of a vcluster: one TLS listener per node the tenant sees.

Nodes inside advertise this machine's (or pod's) address and their own port here, so the
virtual API server sends `kubectl logs|exec|attach|port-forward` and node-proxy calls to
the runner. Each call is answered by the same sub-resource of the pod's host copy
(routes.py); upgraded connections (SPDY, WebSocket) are spliced byte for byte between the
two API servers.

Only the virtual API server's kubelet-client certificate gets in, and it trusts this
endpoint only through the vcluster's own CA (--kubelet-certificate-authority), so a node a
tenant points elsewhere reaches nothing. A pod is looked up by its translated host name
among the host pods this vcluster owns: no name a tenant sends can reach another pod.
A listener per node is what tells one node's stats from another's: the kubelet API's paths
do not name the node.
"""

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import ssl
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import h11
from cryptography.hazmat.primitives import serialization

from subkube.controlplane.pki import KUBELET_CLIENT, PKI
from subkube.controlplane.ports import remembered_port
from subkube.kube.informer import Informer
from subkube.kube.rest import TRANSIENT, ApiError, Kube, Obj
from subkube.kube.upgrade import READ_SIZE, close_writer, open_upgrade, splice
from subkube.kube.upstream import ApiClient
from subkube.log import kv
from subkube.runner.kubelet import routes, stats
from subkube.syncer import names

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# prime(): health checks through the API server until it presents its renewed certificate.
PRIME_TRIES = 10
PRIME_PAUSE = 0.3
# Any address outside this machine: asking the kernel for the route to it names the
# interface that leaves it, without sending anything.
_ROUTE_PROBE = "10.255.255.255"


def kubelet_address() -> str:
    """The address nodes inside advertise for their kubelet. The API server proxies node
    calls (`nodes/N/proxy/stats/summary`) only to global unicast addresses, never to
    loopback, so this is the address of the interface that leaves this machine (or pod);
    loopback only where there is none (exec and logs still work then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((_ROUTE_PROBE, 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return LOOPBACK
    ip = ipaddress.ip_address(address)
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
        return LOOPBACK
    return address


def _peer_der(writer: asyncio.StreamWriter) -> bytes:
    tls = writer.get_extra_info("ssl_object")
    return (tls.getpeercert(binary_form=True) if tls else None) or b""


def _peer_user(writer: asyncio.StreamWriter) -> str:
    cert = writer.get_extra_info("peercert") or {}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class KubeletEndpoint:
    def __init__(
        self,
        *,
        address: str,
        pki: PKI,
        host_api: ApiClient,
        host_namespace: str,
        vcluster: str,
        ports_dir: Path,
    ) -> None:
        self.address = address
        self.host_api = host_api
        self.host = Kube(host_api)
        self.host_namespace = host_namespace
        self.vcluster = vcluster
        self.ports_dir = ports_dir
        self.pki = pki
        self.pods: Informer | None = None
        self.servers: dict[str, asyncio.Server] = {}
        self._lock = asyncio.Lock()
        self._connections: set[asyncio.Task[None]] = set()
        # The client certificate of the last call (prime() waits for the renewed one).
        self._presented = b""
        self.tls = self._tls()

    def _tls(self) -> ssl.SSLContext:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.pki.ca.cert))
        tls.load_cert_chain(str(self.pki.runner.cert), str(self.pki.runner.key))
        tls.verify_mode = ssl.CERT_REQUIRED
        return tls

    async def renew(self, *, ca_changed: bool) -> None:
        """New handshakes present the renewed certificate. After a CA rotation the
        listeners must also stop trusting the old CA, which an SSLContext cannot unlearn:
        they listen anew, on the same ports, with a new one (calls under way go on)."""
        if not ca_changed:
            self.tls.load_cert_chain(str(self.pki.runner.cert), str(self.pki.runner.key))
            return
        async with self._lock:
            self.tls = self._tls()
            for node, server in list(self.servers.items()):
                port = int(server.sockets[0].getsockname()[1])
                server.close()
                self.servers[node] = await self._listen(node, port)

    async def prime(self, virtual: Kube) -> None:
        """After its kubelet-client certificate changed on disk, the API server notices at
        its next handshake with a kubelet and closes all its kubelet connections, the one
        being made too, whose call fails (kubernetes/kops#16850). Make that call ours, a
        health check through a node that is here, rather than a tenant's `kubectl logs`.
        With no node yet, a node made within five minutes (until the API server checks the
        files by itself) may still see its first call fail."""
        renewed = self.pki.client(KUBELET_CLIENT).load()[0].public_bytes(serialization.Encoding.DER)
        for node in list(self.servers):
            for _ in range(PRIME_TRIES):
                status = 0
                with contextlib.suppress(*TRANSIENT):
                    async with virtual.stream(f"/api/v1/nodes/{node}/proxy/healthz") as resp:
                        status = resp.status
                if status == 404:
                    break  # that node is gone inside: try another
                if status == 200 and self._presented == renewed:
                    return
                # client-go reads the certificate files at most once a second.
                await asyncio.sleep(PRIME_PAUSE)
            else:
                log.warning("the API server does not present its renewed kubelet certificate")
                return

    def serve_pods(self, pods: Informer) -> None:
        """The syncer's cache of this vcluster's host pods: the only pods calls can reach."""
        self.pods = pods

    async def port(self, node: str) -> int:
        """The port of NODE's listener, opened on first use and kept across restarts."""
        async with self._lock:
            server = self.servers.get(node)
            if server is None:
                self.ports_dir.mkdir(parents=True, exist_ok=True)
                port = remembered_port(self.ports_dir / node, self.address)
                server = self.servers[node] = await self._listen(node, port)
                log.info("kubelet endpoint listening", extra=kv(node=node, port=port))
            return int(server.sockets[0].getsockname()[1])

    async def _listen(self, node: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(
            lambda r, w: self._accept(node, r, w), self.address, port, ssl=self.tls
        )

    async def stop(self) -> None:
        for server in self.servers.values():
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self.servers.values():
            await server.wait_closed()
        self.servers.clear()

    async def _accept(
        self, node: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(node, reader, writer)
        except (*TRANSIENT, ssl.SSLError, h11.ProtocolError) as exc:
            log.info("kubelet call ended", extra=kv(node=node, error=str(exc)))
        finally:
            self._connections.discard(task)
            await close_writer(writer)

    async def _serve(
        self, node: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        request = await _read_request(conn, reader)
        if request is None:
            return
        url = urlsplit(request.target.decode("latin-1"))
        query = parse_qsl(url.query, keep_blank_values=True)
        self._presented = _peer_der(writer)
        try:
            if _peer_user(writer) != KUBELET_CLIENT.user:
                raise Refused(403, "only the virtual API server may call this kubelet")
            call = routes.parse(url.path)
            if call is None:
                raise Refused(
                    403, f"{url.path} is not served here: only {', '.join(routes.SERVED)}"
                )
            log.debug("kubelet call", extra=kv(node=node, kind=call.kind, pod=call.pod))
            if call.kind == routes.HEALTHZ:
                await _respond(conn, writer, 200, b"ok", "text/plain")
            elif call.kind == routes.STATS:
                body = json.dumps(await self._summary(node)).encode()
                await _respond(conn, writer, 200, body, "application/json")
            elif call.kind == routes.METRICS:
                await _respond(
                    conn,
                    writer,
                    200,
                    (await self._metrics(node)).encode(),
                    "text/plain; version=0.0.4",
                )
            else:
                host_pod = self._host_pod(call)
                target = routes.host_path(call, self.host_namespace, host_pod)
                host_query = routes.host_query(call, query)
                if call.kind == routes.LOGS:
                    await self._logs(conn, reader, writer, target, host_query)
                else:
                    await self._upgrade(conn, reader, writer, request, target, host_query)
        except Refused as exc:
            await _respond_status(conn, writer, exc.status, str(exc))

    def _host_pod(self, call: routes.Call) -> str:
        """The host name of the tenant's pod CALL names, if this vcluster owns such a pod."""
        name = names.host_name(call.pod, call.namespace, self.vcluster)
        pod = self.pods.get(self.host_namespace, name) if self.pods is not None else None
        annotations = ((pod or {}).get("metadata") or {}).get("annotations") or {}
        if (
            pod is None
            or not names.is_ours(pod, vcluster=self.vcluster)
            or annotations.get(names.ANNOTATION_NAMESPACE) != call.namespace
            or (call.uid and annotations.get(names.ANNOTATION_UID) != call.uid)
        ):
            raise Refused(404, f'pod "{call.pod}" in namespace "{call.namespace}" not found')
        return name

    async def _logs(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        query: list[tuple[str, str]],
    ) -> None:
        async with self.host.stream(path, query) as resp:
            if resp.status != 200:
                await _respond(conn, writer, resp.status, await resp.read(), resp.content_type)
                return
            writer.write(
                conn.send(
                    h11.Response(
                        status_code=200,
                        headers=[("Content-Type", "text/plain"), ("Connection", "close")],
                    )
                )
            )
            await writer.drain()

            async def copy() -> None:
                async for chunk in resp.content.iter_any():
                    writer.write(conn.send(h11.Data(data=chunk)))
                    await writer.drain()
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()

            # A follow never ends by itself: stop when the virtual API server hangs up.
            copying = asyncio.create_task(copy())
            hangup = asyncio.create_task(reader.read(1))
            try:
                await asyncio.wait({copying, hangup}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                hangup.cancel()
                copying.cancel()
                await asyncio.gather(copying, hangup, return_exceptions=True)

    async def _upgrade(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        path: str,
        query: list[tuple[str, str]],
    ) -> None:
        target = path + ("?" + urlencode(query) if query else "")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in routes.pass_headers(list(request.headers), routes.UPGRADE_REQUEST_HEADERS)
        ]
        reply = await open_upgrade(self.host_api, request.method.decode(), target, headers)
        if not reply.switched:
            await reply.close()
            content_type = dict(reply.headers).get(b"content-type", b"text/plain").decode()
            await _respond(conn, writer, reply.status, reply.body, content_type)
            return
        writer.write(
            conn.send(
                h11.InformationalResponse(
                    status_code=101,
                    headers=routes.pass_headers(reply.headers, routes.UPGRADE_REPLY_HEADERS),
                )
            )
        )
        from_client, _ = conn.trailing_data
        if reply.leftover:
            writer.write(reply.leftover)
        if from_client:
            reply.writer.write(bytes(from_client))
        await asyncio.gather(writer.drain(), reply.writer.drain())
        await splice((reader, writer), (reply.reader, reply.writer))

    def _tenant_pods(self, node: str) -> tuple[list[Obj], stats.TenantPods]:
        pods = self.pods.items() if self.pods is not None else []
        tenant = stats.TenantPods.of(
            pods, host_namespace=self.host_namespace, vcluster=self.vcluster, node=node
        )
        return pods, tenant

    async def _summary(self, node: str) -> Obj:
        pods, tenant = self._tenant_pods(node)
        try:
            summary = await self.host.request("GET", f"/api/v1/nodes/{node}/proxy/stats/summary")
        except (ApiError, ValueError) as exc:
            log.debug("host has no stats for the node", extra=kv(node=node, error=str(exc)))
            return stats.summary_from_pods(node, pods, tenant)
        return stats.filter_summary(summary, tenant)

    async def _metrics(self, node: str) -> str:
        _, tenant = self._tenant_pods(node)
        async with self.host.stream(f"/api/v1/nodes/{node}/proxy/metrics/resource") as resp:
            text = (await resp.read()).decode() if resp.status == 200 else ""
        return stats.filter_metrics(text, tenant)


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The request head, once its (empty) body has been read too."""
    request = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            conn.receive_data(data)
            if not data and request is None:
                return None
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
            return request
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def _respond(
    conn: h11.Connection, writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str
) -> None:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
    writer.write(conn.send(h11.Data(data=body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def _respond_status(
    conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str
) -> None:
    """A metav1.Status, as a kubelet answers errors: the API server shows its message."""
    reason = {403: "Forbidden", 404: "NotFound"}.get(status, "")
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": status,
    }
    with contextlib.suppress(h11.LocalProtocolError):
        await _respond(conn, writer, status, json.dumps(body).encode(), "application/json")
