"""A cache that holds each object as its compact JSON text, decoded when read.

A pod decoded into Python dicts takes several times the memory of its JSON: every key and
value is an object of its own, and keys are not shared between objects a watch delivers one
by one. A syncer caches two copies of every pod (virtual and host), so the cache is most of
its memory. Decoding on read costs tens of microseconds, against the milliseconds of the
API request a reconcile makes anyway; and every reader gets its own copy, so none can
change the cache by accident. orjson encodes and decodes several times faster than the
standard library: a restarted syncer fills its caches with every pod of both sides.
"""

from collections.abc import Hashable, Iterator, MutableMapping
from typing import Any, TypeVar

import orjson

K = TypeVar("K", bound=Hashable)


class Packed(MutableMapping[K, dict[str, Any]]):
    def __init__(self) -> None:
        self._texts: dict[K, str] = {}

    def __getitem__(self, key: K) -> dict[str, Any]:
        obj: dict[str, Any] = orjson.loads(self._texts[key])
        return obj

    def __setitem__(self, key: K, obj: dict[str, Any]) -> None:
        # orjson's bytes keep the buffer it grew while encoding, several kilobytes more
        # than the text; a str of the text holds only what it needs.
        self._texts[key] = orjson.dumps(obj).decode()

    def __delitem__(self, key: K) -> None:
        del self._texts[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, key: object) -> bool:
        return key in self._texts
