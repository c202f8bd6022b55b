"""An in-memory Kubernetes API server for fast unit tests: `MemoryKube`, a drop-in for the
async REST layer `subkube.kube.rest.Kube`.

It keeps objects as plain dicts in one asyncio loop, with what the syncer relies on from a
real API server: one etcd-like resourceVersion counter, optimistic concurrency, merge and
JSON patches, the status subresource kept apart from the main resource, finalizers and pod
graceful deletion, label and field selectors, and watches from a resourceVersion over a
bounded history (410 Gone once it is compacted away). A CustomResourceDefinition is
Established as soon as it is stored (every resource is served anyway). Test helpers inject
failures, count calls and drop or compact watches.

What it leaves out: admission, validation and defaulting, namespaces that must exist,
garbage collection (owner references, propagation policies), the namespace controller,
list pagination, server-side apply, strategic-merge list merging (strategic patches are
merge patches here) and every raw path but a pod's binding.
"""

import asyncio
import copy
import random
import re
import uuid
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import aiohttp

from subkube.kube.resource import CRDS, PODS, Resource
from subkube.kube.rest import MERGE_PATCH, ApiError, Kube, Obj

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# The reason a real API server gives with each status code, for injected failures.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

# Methods whose next calls `fail_next` can make fail, with the HTTP verb they stand for.
VERBS = {
    "get": "GET",
    "list": "GET",
    "create": "POST",
    "replace": "PUT",
    "replace_status": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "watch": "WATCH",
    "request": "POST",
}

# Set by the server alone: an update that sends other values (or none) keeps the stored ones.
SERVER_FIELDS = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)

# The alphabet of generateName suffixes: apimachinery leaves out vowels and look-alikes so
# that no word and no ambiguous character appears in a generated name.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

BINDING_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/binding$")


def timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    """A failure Status as the API server sends it."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


# --- patches -----------------------------------------------------------------------------


class PatchError(ValueError):
    """A patch that cannot be applied (the API server answers 422)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null deletes, anything else
    (lists included) replaces. Returns a new value; neither argument is changed."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strip_directives(patch: Any) -> Any:
    """A strategic merge patch as a plain merge patch: its $-directives ($patch,
    $setElementOrder/…, $retainKeys) would otherwise land in the object as fields."""
    if isinstance(patch, dict):
        return {k: strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [strip_directives(v) for v in patch]
    return patch


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    if not path:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of range")
    return index


class _Doc:
    """The document a JSON patch works on, held in a box so that the root itself ("") can
    be replaced like any member."""

    def __init__(self, doc: Any) -> None:
        self.box: dict[str, Any] = {"": doc}

    def _parent(self, path: Any) -> tuple[Any, str]:
        tokens = ["", *_pointer(path)]
        container: Any = self.box
        for token in tokens[:-1]:
            container = self._child(container, token)
        return container, tokens[-1]

    @staticmethod
    def _child(container: Any, token: str) -> Any:
        if isinstance(container, dict):
            if token not in container:
                raise PatchError(f"missing member {token!r}")
            return container[token]
        if isinstance(container, list):
            return container[_index(container, token, allow_end=False)]
        raise PatchError(f"cannot descend into {type(container).__name__} at {token!r}")

    def get(self, path: Any) -> Any:
        container, token = self._parent(path)
        return self._child(container, token)

    def add(self, path: Any, value: Any) -> None:
        container, token = self._parent(path)
        if isinstance(container, dict):
            container[token] = value
        elif isinstance(container, list):
            container.insert(_index(container, token, allow_end=True), value)
        else:
            raise PatchError(f"cannot add to {type(container).__name__}")

    def remove(self, path: Any) -> Any:
        container, token = self._parent(path)
        if isinstance(container, dict):
            if token not in container:
                raise PatchError(f"cannot remove missing member {path!r}")
            return container.pop(token)
        if isinstance(container, list):
            return container.pop(_index(container, token, allow_end=False))
        raise PatchError(f"cannot remove from {type(container).__name__}")

    def replace(self, path: Any, value: Any) -> None:
        container, token = self._parent(path)
        self._child(container, token)  # must exist
        if isinstance(container, dict):
            container[token] = value
        else:
            container[_index(container, token, allow_end=False)] = value


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test). Returns a new value;
    DOC is not changed. Raises PatchError."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch is a list of operations")
    target = _Doc(copy.deepcopy(doc))
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise PatchError(f"invalid operation {op!r}")
        kind, path = op.get("op"), op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} needs a value")
        if kind == "add":
            target.add(path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            target.remove(path)
        elif kind == "replace":
            target.replace(path, copy.deepcopy(op["value"]))
        elif kind == "move":
            target.add(path, target.remove(op.get("from")))
        elif kind == "copy":
            target.add(path, copy.deepcopy(target.get(op.get("from"))))
        elif kind == "test":
            if target.get(path) != op["value"]:
                raise PatchError(f"test failed at {path}")
        else:
            raise PatchError(f"unknown operation {kind!r}")
    return target.box[""]


# --- selectors ---------------------------------------------------------------------------

_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_TERM = re.compile(
    rf"""^\s*(?:
        !\s*(?P<absent>{_KEY})
      | (?P<skey>{_KEY})\s+(?P<sop>in|notin)\s*\((?P<values>[^()]*)\)
      | (?P<ekey>{_KEY})\s*(?P<eop>==|!=|=)\s*(?P<value>{_VALUE})
      | (?P<present>{_KEY})
    )\s*$""",
    re.VERBOSE,
)
_FIELD_TERM = re.compile(r"^\s*(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|!=|=)\s*(?P<value>[^,]*?)\s*$")

LabelTest = Callable[[dict[str, str]], bool]


def _split_terms(text: str) -> list[str]:
    """Split on the commas that are not inside the parentheses of an `in (…)`."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return [t for t in terms if t.strip()]


def _label_test(term: str) -> LabelTest:
    m = _TERM.match(term)
    if m is None:
        raise ValueError(f"invalid label selector term {term.strip()!r}")
    if m["absent"]:
        key = m["absent"]
        return lambda labels: key not in labels
    if m["present"]:
        key = m["present"]
        return lambda labels: key in labels
    if m["skey"]:
        key = m["skey"]
        values = {v.strip() for v in m["values"].split(",") if v.strip()}
        if m["sop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    key, value = m["ekey"], m["value"]
    if m["eop"] == "!=":
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


@dataclass(frozen=True)
class Selector:
    """A parsed label selector plus field selector; empty matches everything."""

    labels: tuple[LabelTest, ...] = ()
    fields: tuple[tuple[str, str, bool], ...] = ()  # (dotted path, value, equal)

    @classmethod
    def parse(cls, label_selector: str | None, field_selector: str | None = None) -> "Selector":
        """Raises ValueError on a selector the API server would reject."""
        labels = tuple(_label_test(t) for t in _split_terms(label_selector or ""))
        fields = []
        for term in _split_terms(field_selector or ""):
            m = _FIELD_TERM.match(term)
            if m is None:
                raise ValueError(f"invalid field selector term {term.strip()!r}")
            fields.append((m["path"], m["value"], m["op"] != "!="))
        return cls(labels, tuple(fields))

    def matches(self, obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        if not all(test(labels) for test in self.labels):
            return False
        return all((_field(obj, path) == value) == equal for path, value, equal in self.fields)


def _field(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""  # as the API server: an unset field selects as the empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- watches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    rv: int
    store: tuple[str, str]
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj  # never changed once recorded
    old: Obj | None  # the object before a MODIFIED, to tell selector entries and exits


_DROP = object()  # queued to end a watch as a dropped connection would


class _Watch:
    """One open watch: an async iterator over events queued by the store as they happen.

    Registered when created (rather than at the first iteration, as an HTTP watch would)
    so that "from now" is the moment of the call, which is what a test means by it."""

    def __init__(
        self,
        kube: "MemoryKube",
        res: Resource,
        namespace: str | None,
        selector: Selector,
        deadline: float,
        error: ApiError | None,
    ) -> None:
        self.kube = kube
        self.res = res
        self.store = _store_key(res)
        self.namespace = namespace if res.namespaced else None
        self.selector = selector
        self.deadline = deadline
        self.error = error
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False
        self.ending = False  # timed out: one last bookmark, then the end

    def offer(self, event: _Event) -> None:
        """Queue EVENT as this watch sees it: a label change that enters or leaves the
        selector is an ADDED or DELETED, as with the API server's watch cache."""
        if self.closed or event.store != self.store:
            return
        if self.namespace is not None and event.obj["metadata"].get("namespace") != self.namespace:
            return
        now = self.selector.matches(event.obj)
        if event.type != "MODIFIED":
            if now:
                self.queue.put_nowait((event.type, event.obj))
            return
        was = event.old is not None and self.selector.matches(event.old)
        if was and now:
            self.queue.put_nowait(("MODIFIED", event.obj))
        elif now:
            self.queue.put_nowait(("ADDED", event.obj))
        elif was:
            self.queue.put_nowait(("DELETED", event.obj))

    def __aiter__(self) -> "_Watch":
        return self

    async def __anext__(self) -> Obj:
        if self.error is not None:
            error, self.error = self.error, None
            self.close()
            raise error
        if self.closed:
            raise StopAsyncIteration
        if self.ending:
            self.close()
            raise StopAsyncIteration
        try:
            async with asyncio.timeout_at(self.deadline):
                item = await self.queue.get()
        except TimeoutError:
            # The API server sends a bookmark shortly before it ends a watch, so that the
            # client resumes from there and not from an older version that may be gone.
            self.ending = True
            self.kube._watches.discard(self)
            return {"type": "BOOKMARK", "object": self.kube._bookmark_object(self.res)}
        if item is _DROP:
            self.close()
            raise StopAsyncIteration
        kind, obj = item
        return {"type": kind, "object": copy.deepcopy(obj)}

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self.kube._watches.discard(self)


# --- the store ---------------------------------------------------------------------------


def _store_key(res: Resource) -> tuple[str, str]:
    # Versions of one resource share their objects, as they do in etcd.
    return res.group, res.plural


def _group_resource(res: Resource) -> str:
    return f"{res.plural}.{res.group}" if res.group else res.plural


@dataclass
class _Failure:
    status: int
    reason: str
    times: int


@dataclass
class _Store:
    res: Resource
    objects: dict[tuple[str, str], Obj] = field(default_factory=dict)


class MemoryKube(Kube):
    """An API server in a dict, with the methods (and signatures) of `Kube`.

    Everything it stores or returns is a deep copy. Every call yields to the loop once
    before it acts, like a request would, and then acts at once: calls never interleave
    halfway, so each is atomic as on a real server.

    `history` is how many events (of all resources together, as etcd keeps them) a watch
    can resume from; `now` gives the time for timestamps (tests may pin it)."""

    def __init__(self, *, history: int = 1000, now: Callable[[], datetime] | None = None) -> None:
        # No super().__init__(): there is no ApiClient, and every method that would use
        # one is replaced here, so that a test can never reach a real cluster.
        self._now = now or (lambda: datetime.now(UTC))
        self._rv = 0
        self._stores: dict[tuple[str, str], _Store] = {}
        self._history: deque[_Event] = deque()
        self._history_size = history
        # Watches may resume from any version at or after this one.
        self._oldest = 0
        # Weak: a watch that its caller dropped without closing is forgotten on its own.
        self._watches: weakref.WeakSet[_Watch] = weakref.WeakSet()
        self._failures: dict[str, deque[_Failure]] = {}
        # Requests by method name ("get", "list", "create", "replace", "replace_status",
        # "patch", "delete", "watch", "request"); apply and get_or_none count as the
        # requests they make.
        self.calls: Counter[str] = Counter()

    # --- test helpers --------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion of the whole store."""
        return str(self._rv)

    def objects(self, res: Resource) -> list[Obj]:
        """Every stored object of RES (terminating ones included), by namespace and name."""
        store = self._stores.get(_store_key(res))
        if store is None:
            return []
        return [copy.deepcopy(store.objects[key]) for key in sorted(store.objects)]

    def compact(self) -> None:
        """Forget the watch history, as an etcd compaction: a watch from any version older
        than the current one gets 410 Gone. Open watches go on."""
        self._history.clear()
        self._oldest = self._rv

    def drop_watches(self) -> None:
        """End every open watch, as a lost connection or an API server restart would: the
        clients reconnect from the last version they saw."""
        for watch in list(self._watches):
            watch.queue.put_nowait(_DROP)
            self._watches.discard(watch)

    def bookmark(self) -> None:
        """Send a BOOKMARK with the current resourceVersion to every open watch, as the API
        server does about once a minute."""
        for watch in list(self._watches):
            watch.queue.put_nowait(("BOOKMARK", self._bookmark_object(watch.res)))

    def fail_next(self, method: str, status: int, times: int = 1, reason: str = "") -> None:
        """Make the next TIMES calls of METHOD ("get", "list", "create", "replace",
        "replace_status", "patch", "delete", "watch", "request") raise ApiError STATUS
        before they change anything. A 404 on delete or get_or_none gives None, as it
        would from the real server. REASON defaults to the one the server gives."""
        if method not in VERBS:
            raise ValueError(f"cannot fail {method!r}: one of {', '.join(VERBS)}")
        failure = _Failure(status, reason or REASONS.get(status, "Unknown"), times)
        self._failures.setdefault(method, deque()).append(failure)

    def _injected(self, method: str, path: str) -> None:
        queue = self._failures.get(method)
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        message = f"injected failure of {method}"
        raise ApiError(
            failure.status,
            status_body(failure.status, failure.reason, message),
            VERBS[method],
            path,
        )

    async def _enter(self, method: str, path: str) -> None:
        self.calls[method] += 1
        # One step of the loop, as a request takes: other tasks (watchers, workers) run
        # between calls as they would against a real server.
        await asyncio.sleep(0)
        self._injected(method, path)

    # --- internals -----------------------------------------------------------------------

    def _store(self, res: Resource) -> _Store:
        key = _store_key(res)
        if key not in self._stores:
            self._stores[key] = _Store(res)
        return self._stores[key]

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, event: _Event) -> None:
        if self._history_size <= 0:
            self._oldest = event.rv
        else:
            if len(self._history) >= self._history_size:
                self._oldest = self._history.popleft().rv
            self._history.append(event)
        for watch in list(self._watches):
            watch.offer(event)

    def _bookmark_object(self, res: Resource) -> Obj:
        return {
            "apiVersion": res.api_version,
            "kind": res.kind,
            "metadata": {"resourceVersion": str(self._rv)},
        }

    @staticmethod
    def _ns(res: Resource, namespace: str | None) -> str:
        return (namespace or "") if res.namespaced else ""

    def _fail(
        self,
        code: int,
        message: str,
        verb: str,
        path: str,
        res: Resource | None = None,
        name: str = "",
        reason: str = "",
    ) -> NoReturn:
        details = None
        if res is not None:
            details = {"name": name, "group": res.group, "kind": res.plural}
        body = status_body(code, reason or REASONS[code], message, details)
        raise ApiError(code, body, verb, path)

    def _not_found(self, res: Resource, name: str, verb: str, path: str) -> NoReturn:
        self._fail(404, f'{_group_resource(res)} "{name}" not found', verb, path, res, name)

    def _conflict(self, res: Resource, name: str, why: str, verb: str, path: str) -> NoReturn:
        message = f'Operation cannot be fulfilled on {_group_resource(res)} "{name}": {why}'
        self._fail(409, message, verb, path, res, name)

    def _stale(self, res: Resource, name: str, verb: str, path: str) -> NoReturn:
        why = (
            "the object has been modified; please apply your changes to the latest version "
            "and try again"
        )
        self._conflict(res, name, why, verb, path)

    def _uid_mismatch(
        self, res: Resource, name: str, wanted: str, actual: str, verb: str, path: str
    ) -> NoReturn:
        why = f"Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}"
        self._conflict(res, name, why, verb, path)

    def _selector(
        self, label_selector: str | None, field_selector: str | None, verb: str, path: str
    ) -> Selector:
        try:
            return Selector.parse(label_selector, field_selector)
        except ValueError as exc:
            self._fail(400, str(exc), verb, path)

    def _lookup(self, res: Resource, name: str, namespace: str | None, verb: str) -> Obj:
        path = res.path(namespace, name)
        if not name:
            self._fail(404, "a name is required", verb, path)
        obj = self._store(res).objects.get((self._ns(res, namespace), name))
        if obj is None:
            self._not_found(res, name, verb, path)
        return obj

    def _write(self, res: Resource, old: Obj, new: Obj, verb: str, path: str) -> Obj:
        """Store NEW over OLD after an update: server fields kept, generation counted,
        nothing written when nothing changed, and an object that waited only for its
        finalizers removed once they are gone."""
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        name = old_meta["name"]
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            self._uid_mismatch(res, name, meta["uid"], old_meta["uid"], verb, path)
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            self._stale(res, name, verb, path)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                message = (
                    f'{_group_resource(res)} "{name}" is invalid: metadata.finalizers: '
                    f"Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)}"
                )
                self._fail(422, message, verb, path, res, name)
        for key in SERVER_FIELDS:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if new == old:
            return copy.deepcopy(old)  # a no-op: no new version, no event
        if _spec_of(new) != _spec_of(old):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not meta.get("deletionGracePeriodSeconds")
        ):
            return self._remove(res, new)
        meta["resourceVersion"] = str(self._next_rv())
        self._store(res).objects[(meta.get("namespace", ""), name)] = new
        self._record(_Event(self._rv, _store_key(res), "MODIFIED", new, old))
        return copy.deepcopy(new)

    def _remove(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._next_rv())
        self._store(res).objects.pop((meta.get("namespace", ""), meta["name"]), None)
        self._record(_Event(self._rv, _store_key(res), "DELETED", obj, None))
        return copy.deepcopy(obj)

    # --- Kube's methods ------------------------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj:
        await self._enter("get", res.path(namespace, name))
        return copy.deepcopy(self._lookup(res, name, namespace, "GET"))

    async def get_or_none(
        self, res: Resource, name: str, namespace: str | None = None
    ) -> Obj | None:
        try:
            return await self.get(res, name, namespace)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    async def create(self, res: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        """The object as stored; its status is kept as given (unlike the server, which
        resets it for most types) so that a test can set up any state in one call."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = (namespace or meta.get("namespace") or "") if res.namespaced else ""
        path = res.path(ns or None)
        await self._enter("create", path)
        if res.namespaced:
            if not ns:
                self._fail(400, f"a namespace is required to create {res.plural}", "POST", path)
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                message = (
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
                self._fail(400, message, "POST", path)
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        store = self._store(res)
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                message = f"{res.kind} is invalid: metadata.name: Required value"
                self._fail(422, message, "POST", path, res)
            name = ""
            while not name or (ns, name) in store.objects:
                name = prefix + "".join(random.choices(SUFFIX_ALPHABET, k=5))
            meta["name"] = name
        name = meta["name"]
        if (ns, name) in store.objects:
            message = f'{_group_resource(res)} "{name}" already exists'
            self._fail(409, message, "POST", path, res, name, "AlreadyExists")
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if _store_key(res) == _store_key(CRDS) and "status" not in obj:
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp(self._now())
        meta["generation"] = 1
        meta["resourceVersion"] = str(self._next_rv())
        store.objects[(ns, name)] = obj
        self._record(_Event(self._rv, _store_key(res), "ADDED", obj, None))
        return copy.deepcopy(obj)

    async def replace(self, res: Resource, obj: Obj) -> Obj:
        """PUT: everything but the status (which only replace_status and status patches
        change) and the fields only the server sets."""
        obj = copy.deepcopy(obj)
        meta = obj.get("metadata") or {}
        path = res.path(meta.get("namespace"), meta.get("name"))
        await self._enter("replace", path)
        old = self._lookup(res, meta.get("name", ""), meta.get("namespace"), "PUT")
        _keep_status(obj, old)
        return self._write(res, old, obj, "PUT", path)

    async def replace_status(self, res: Resource, obj: Obj) -> Obj:
        """PUT .../status: only the status; the rest of OBJ only counts as preconditions
        (resourceVersion, uid)."""
        meta = obj.get("metadata") or {}
        path = res.path(meta.get("namespace"), meta.get("name"), "status")
        await self._enter("replace_status", path)
        old = self._lookup(res, meta.get("name", ""), meta.get("namespace"), "PUT")
        new = _with_status(old, obj)
        for key in ("resourceVersion", "uid"):
            if meta.get(key):
                new["metadata"][key] = meta[key]
        return self._write(res, old, new, "PUT", path)

    async def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> Obj:
        """Merge patches (strategic ones too, lists replaced whole) and JSON patches. A
        resourceVersion or uid the patch sets is a precondition."""
        path = res.path(namespace, name, subresource)
        await self._enter("patch", path)
        if subresource not in (None, "status"):
            self._fail(404, f"MemoryKube has no subresource {subresource!r}", "PATCH", path)
        old = self._lookup(res, name, namespace, "PATCH")
        try:
            if content_type == JSON_PATCH:
                patched = json_patch(old, patch)
            elif content_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                if not isinstance(patch, dict):
                    self._fail(400, "a merge patch must be a JSON object", "PATCH", path)
                if content_type == STRATEGIC_MERGE_PATCH:
                    patch = strip_directives(patch)
                patched = merge_patch(old, patch)
            else:
                self._fail(415, f"MemoryKube does not take {content_type} patches", "PATCH", path)
        except PatchError as exc:
            self._fail(422, f"the patch cannot be applied: {exc}", "PATCH", path, res, name)
        if not isinstance(patched, dict):
            self._fail(422, "the patch does not leave an object", "PATCH", path, res, name)
        patched_meta = patched.get("metadata") or {}
        for key in ("name", "namespace"):
            if patched_meta.get(key, "") != old["metadata"].get(key, ""):
                message = f"metadata.{key}: Invalid value: field is immutable"
                self._fail(422, message, "PATCH", path, res, name)
        if subresource == "status":
            new = _with_status(old, patched)
            for key in ("resourceVersion", "uid"):
                if patched_meta.get(key):
                    new["metadata"][key] = patched_meta[key]
        else:
            new = patched
            _keep_status(new, old)
        return self._write(res, old, new, "PATCH", path)

    async def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        grace_period: int | None = None,
        uid: str | None = None,
        propagation: str | None = None,
    ) -> Obj | None:
        """The object (gone, or terminating while finalizers or a kubelet hold it); None if
        it was already gone. PROPAGATION is ignored: there is no garbage collector."""
        path = res.path(namespace, name)
        try:
            await self._enter("delete", path)
            old = self._lookup(res, name, namespace, "DELETE")
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
        meta = old["metadata"]
        if uid and uid != meta["uid"]:
            self._uid_mismatch(res, name, uid, meta["uid"], "DELETE", path)
        grace = self._grace(res, old, grace_period)
        current = meta.get("deletionGracePeriodSeconds")
        if not meta.get("finalizers") and grace == 0:
            return self._remove(res, copy.deepcopy(old))
        if meta.get("deletionTimestamp") and current is not None and grace >= current:
            return copy.deepcopy(old)  # already terminating, no sooner than asked
        new = copy.deepcopy(old)
        new_meta = new["metadata"]
        new_meta["deletionTimestamp"] = timestamp(self._now() + timedelta(seconds=grace))
        new_meta["deletionGracePeriodSeconds"] = grace
        if not res.group and res.plural == "namespaces":
            # As the namespace registry does: a namespace being deleted says so.
            new.setdefault("status", {})["phase"] = "Terminating"
        if not meta.get("deletionTimestamp"):
            # The server counts the start of a deletion as a change of the desired state.
            new_meta["generation"] = int(meta.get("generation") or 0) + 1
        new_meta["resourceVersion"] = str(self._next_rv())
        self._store(res).objects[(meta.get("namespace", ""), name)] = new
        self._record(_Event(self._rv, _store_key(res), "MODIFIED", new, old))
        return copy.deepcopy(new)

    @staticmethod
    def _grace(res: Resource, obj: Obj, grace_period: int | None) -> int:
        """Seconds the object may take to go. Only pods that a kubelet runs have any: the
        kubelet deletes them again with 0 once their containers stopped."""
        if res.group or res.plural != "pods":
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace_period is not None:
            return max(int(grace_period), 0)
        configured = spec.get("terminationGracePeriodSeconds")
        # A pod may ask for 0 in its spec, but the server still gives the kubelet 1 second.
        return max(int(configured), 1) if configured is not None else 30

    async def apply(self, res: Resource, obj: Obj) -> Obj:
        """Create OBJ, or replace the object of that name with it (whatever it holds now).
        Counted as the get and the create or replace it makes, as Kube.apply's requests."""
        meta = obj["metadata"]
        current = await self.get_or_none(res, meta["name"], meta.get("namespace"))
        if current is None:
            return await self.create(res, obj)
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return await self.replace(res, obj)

    def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str | None = None,
        timeout_seconds: float = 300,
    ) -> AsyncIterator[Obj]:
        """Events after RESOURCE_VERSION ("" from now on, "0" the current objects as ADDED
        first); errors are raised at the first iteration, as from the HTTP watch. Ends after
        TIMEOUT_SECONDS with a BOOKMARK."""
        path = res.path(namespace)
        self.calls["watch"] += 1
        error: ApiError | None = None
        selector = Selector()
        try:
            self._injected("watch", path)
            selector = self._selector(label_selector, None, "WATCH", path)
            start = self._watch_start(resource_version, path)
        except ApiError as exc:
            error, start = exc, self._rv
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        watch = _Watch(self, res, namespace, selector, deadline, error)
        if error is None:
            if resource_version == "0":
                for key in sorted(self._store(res).objects):
                    watch.offer(
                        _Event(
                            self._rv, _store_key(res), "ADDED", self._store(res).objects[key], None
                        )
                    )
            for event in self._history:
                if event.rv > start:
                    watch.offer(event)
            self._watches.add(watch)
        return watch

    def _watch_start(self, resource_version: str, path: str) -> int:
        if resource_version in ("", "0"):
            return self._rv
        if not resource_version.isdigit():
            self._fail(400, f"invalid resourceVersion {resource_version!r}", "WATCH", path)
        start = int(resource_version)
        if start < self._oldest:
            message = f"too old resource version: {start} ({self._oldest})"
            self._fail(410, message, "WATCH", path)
        return start

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = 60,
    ) -> Obj:
        """Only POST .../pods/NAME/binding (what a scheduler, or the syncer, does)."""
        await self._enter("request", path)
        match = BINDING_PATH.match(path)
        if method.upper() != "POST" or match is None:
            message = f"MemoryKube does not serve {method} {path}: only POST .../pods/NAME/binding"
            self._fail(404, message, method, path)
        return self._bind(match["ns"], match["name"], body or {}, path)

    def _bind(self, namespace: str, name: str, binding: Obj, path: str) -> Obj:
        old = self._lookup(PODS, name, namespace, "POST")
        meta = old["metadata"]
        wanted = (binding.get("metadata") or {}).get("uid")
        if wanted and wanted != meta["uid"]:
            self._uid_mismatch(PODS, name, wanted, meta["uid"], "POST", path)
        node = (binding.get("target") or {}).get("name")
        if not node:
            self._fail(422, "Binding is invalid: target.name: Required value", "POST", path)
        if meta.get("deletionTimestamp"):
            why = f"pod {name} is being deleted, cannot be assigned to a host"
            self._conflict(PODS, name, why, "POST", path)
        bound = (old.get("spec") or {}).get("nodeName")
        if bound:
            why = f"pod {name} is already assigned to node {bound!r}"
            self._conflict(PODS, name, why, "POST", path)
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["nodeName"] = node
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp(self._now())}
        )
        status["conditions"] = conditions
        self._write(PODS, old, new, "POST", path)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def stream(  # type: ignore[override]  # raises before there is anything to enter
        self, path: str, query: list[tuple[str, str]] | None = None
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        raise NotImplementedError(
            f"MemoryKube cannot stream {path}: logs and metrics need a real API server"
        )

    async def _open(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("MemoryKube has no HTTP connection")

    # Last in the class: below it, `list` in an annotation would mean this method.
    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        resource_version: str = "",
    ) -> Obj:
        """All matching objects in one list (Kube.list merges its pages, so LIMIT changes
        nothing; there is no watch cache, so every list is current, as RESOURCE_VERSION ""
        asks). Items carry no apiVersion and kind, as in the API server's lists of
        built-in types."""
        path = res.path(namespace)
        await self._enter("list", path)
        selector = self._selector(label_selector, field_selector, "GET", path)
        ns = self._ns(res, namespace)
        store = self._store(res)
        items = []
        for key in sorted(store.objects):
            obj = store.objects[key]
            if ns and key[0] != ns:
                continue
            if selector.matches(obj):
                item = copy.deepcopy(obj)
                item.pop("apiVersion", None)
                item.pop("kind", None)
                items.append(item)
        return {
            "apiVersion": res.api_version,
            "kind": f"{res.kind}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }


def _spec_of(obj: Obj) -> Obj:
    """What the generation counts: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _keep_status(new: Obj, old: Obj) -> None:
    """The main resource leaves the status as it is (the status subresource changes it)."""
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)


def _with_status(old: Obj, obj: Obj) -> Obj:
    """OLD with OBJ's status, and nothing else of OBJ."""
    new = copy.deepcopy(old)
    if "status" in obj:
        new["status"] = copy.deepcopy(obj["status"])
    else:
        new.pop("status", None)
    return new
