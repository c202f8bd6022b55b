"""Which kubelet calls the runner answers, and where each goes on the host (pure).

The virtual API server turns `kubectl logs|exec|attach|port-forward` into calls on the
kubelet of the pod's node. Each becomes the same sub-resource of the host copy of that pod,
with the kubelet's query parameters renamed to the API's. Every other kubelet path is
refused.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

LOGS = "containerLogs"
EXEC = "exec"
ATTACH = "attach"
PORT_FORWARD = "portForward"
STATS = "stats/summary"
METRICS = "metrics/resource"
HEALTHZ = "healthz"
SERVED = (LOGS, EXEC, ATTACH, PORT_FORWARD, STATS, METRICS, HEALTHZ)

_HOST_SUBRESOURCE = {LOGS: "log", EXEC: "exec", ATTACH: "attach", PORT_FORWARD: "portforward"}
# Options of `pods/log` that the kubelet takes under the same names.
LOG_OPTIONS = (
    "follow",
    "previous",
    "timestamps",
    "sinceSeconds",
    "sinceTime",
    "tailLines",
    "limitBytes",
)
# Kubelet stream flags -> pods/exec|attach flags.
_STREAM_FLAGS = {"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_UID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


@dataclass(frozen=True)
class Call:
    kind: str
    namespace: str = ""
    pod: str = ""
    container: str = ""
    uid: str = ""


def parse(path: str) -> Call | None:
    """The call a kubelet path asks for, or None if it is not one the runner serves."""
    trimmed = path.strip("/")
    if trimmed in (STATS, METRICS, HEALTHZ):
        return Call(trimmed)
    kind, *rest = [unquote(p) for p in trimmed.split("/")]
    uid = ""
    if kind in (EXEC, ATTACH) and len(rest) == 4:
        namespace, pod, uid, container = rest
    elif kind in (LOGS, EXEC, ATTACH) and len(rest) == 3:
        namespace, pod, container = rest
    elif kind == PORT_FORWARD and len(rest) in (2, 3):
        namespace, pod, uid = (*rest, "") if len(rest) == 2 else rest
        container = ""
    else:
        return None
    if not (_NAME.match(namespace) and _NAME.match(pod)):
        return None
    if container and not _NAME.match(container):
        return None
    if uid and not _UID.match(uid):
        return None
    return Call(kind, namespace, pod, container, uid)


def host_path(call: Call, host_namespace: str, host_pod: str) -> str:
    return f"/api/v1/namespaces/{host_namespace}/pods/{host_pod}/{_HOST_SUBRESOURCE[call.kind]}"


def host_query(call: Call, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The kubelet query of CALL as the host API's sub-resource expects it; anything else
    the caller sent is dropped."""
    out: list[tuple[str, str]] = []
    if call.container:
        out.append(("container", call.container))
    for key, value in query:
        if call.kind == LOGS and key in LOG_OPTIONS:
            out.append((key, value))
        elif call.kind == LOGS and key == "tail" and value != "all":
            out.append(("tailLines", value))
        elif call.kind in (EXEC, ATTACH) and key in _STREAM_FLAGS:
            out.append((_STREAM_FLAGS[key], "true" if value in ("1", "true") else "false"))
        elif call.kind == EXEC and key == "command":
            out.append(("command", value))
        elif call.kind == PORT_FORWARD and key == "port":
            out.append(("ports", value))
    return out


# Headers of an upgrade that must reach the host unchanged, and those of its answer that
# must reach the virtual API server: the protocol negotiation, nothing else.
UPGRADE_REQUEST_HEADERS = (
    b"connection",
    b"upgrade",
    b"x-stream-protocol-version",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-protocol",
    b"sec-websocket-extensions",
)
UPGRADE_REPLY_HEADERS = (
    b"connection",
    b"upgrade",
    b"x-stream-protocol-version",
    b"sec-websocket-accept",
    b"sec-websocket-protocol",
    b"sec-websocket-extensions",
)


def pass_headers(
    headers: list[tuple[bytes, bytes]], allowed: tuple[bytes, ...]
) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() in allowed]
