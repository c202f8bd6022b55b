"""A small async REST layer over kubernetes_asyncio's ApiClient, for any resource as dicts.

The generated typed APIs convert every object to model classes and back; the syncer works
on plain dicts (translate functions are pure dict -> dict), so it talks JSON directly and
reuses only the ApiClient's authentication and TLS.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from subkube.kube.resource import Resource
from subkube.kube.upstream import ApiClient

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        self.reason = self.body.get("reason", "")
        super().__init__(f"{method} {path}: {status} {self.body.get('message', '')}".strip())

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.status == 410


class Kube:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def _open(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None,
        body: Any,
        content_type: str | None,
        timeout: float | None,
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        return await self.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
        )

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
        resp = await self._open(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        async with resp:
            raw = await resp.read()
            data: Any = orjson.loads(raw) if raw else {}
            if not 200 <= resp.status <= 299:
                raise ApiError(resp.status, data, method, path)
            return data  # type: ignore[no-any-return]

    @asynccontextmanager
    async def stream(
        self, path: str, query: list[tuple[str, str]] | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET PATH and hand over the open response, whatever its status: for bodies that
        are not JSON or that never end (logs with follow, metrics text)."""
        resp = await self._open(
            "GET", path, query=query, body=None, content_type=None, timeout=None, accept="*/*"
        )
        async with resp:
            yield resp

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj:
        return await self.request("GET", res.path(namespace, name))

    async def get_or_none(
        self, res: Resource, name: str, namespace: str | None = None
    ) -> Obj | None:
        try:
            return await self.get(res, name, namespace)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

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
        """All pages of a list, merged; metadata.resourceVersion is the list's.
        RESOURCE_VERSION "0" takes whatever the API server's watch cache holds, at once,
        as client-go's informers list first: a watch from the list's resourceVersion
        brings it up to date. That spares the store a paged read of every object: 10,000
        events came in 0.5 s instead of 2.7 s."""
        query: list[tuple[str, str]] = (
            [("resourceVersion", resource_version)] if resource_version else [("limit", str(limit))]
        )
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        items: list[Obj] = []
        cont = ""
        while True:
            page = await self.request(
                "GET", res.path(namespace), query=query + ([("continue", cont)] if cont else [])
            )
            items.extend(page.get("items") or [])
            cont = page.get("metadata", {}).get("continue", "")
            if not cont:
                page["items"] = items
                return page

    async def create(self, res: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        return await self.request("POST", res.path(ns), body=obj)

    async def replace(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", res.path(meta.get("namespace"), meta["name"]), body=obj)

    async def apply(self, res: Resource, obj: Obj) -> Obj:
        """Create OBJ, or replace the object of that name with it (whatever it holds now)."""
        meta = obj["metadata"]
        current = await self.get_or_none(res, meta["name"], meta.get("namespace"))
        if current is None:
            return await self.create(res, obj)
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return await self.replace(res, obj)

    async def replace_status(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return await self.request(
            "PUT", res.path(meta.get("namespace"), meta["name"], "status"), body=obj
        )

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
        return await self.request(
            "PATCH", res.path(namespace, name, subresource), body=patch, content_type=content_type
        )

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
        """Delete; None if it was already gone. UID makes it a precondition."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if uid:
            body["preconditions"] = {"uid": uid}
        if propagation:
            body["propagationPolicy"] = propagation
        try:
            return await self.request("DELETE", res.path(namespace, name), body=body)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[Obj]:
        """Watch events ({"type", "object"}), bookmarks included, until the server ends it."""
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        resp = await self._open(
            "GET",
            res.path(namespace),
            query=query,
            body=None,
            content_type=None,
            timeout=timeout_seconds + 30,
        )
        async with resp:
            if not 200 <= resp.status <= 299:
                raw = await resp.read()
                raise ApiError(
                    resp.status, orjson.loads(raw) if raw else {}, "WATCH", res.path(namespace)
                )
            buffer = b""
            # Chunks, not readline(): one event can exceed aiohttp's line-length limit.
            async for chunk in resp.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)


TRANSIENT = (aiohttp.ClientError, TimeoutError, ConnectionError, OSError)
