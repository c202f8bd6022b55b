"""Deep copies of API objects (plain dicts of JSON values), made the fast way."""

from typing import TypeVar

import orjson

T = TypeVar("T")


def json_copy(value: T) -> T:
    """VALUE, copied through orjson: a pod in 40 µs, where copy.deepcopy takes 250 µs. A
    restarted syncer copies every pod of both sides at least twice as it looks at them."""
    out: T = orjson.loads(orjson.dumps(value))
    return out
