"""Python's cyclic garbage collector, paused while a large list is decoded and cached.

orjson builds millions of dicts, lists and strings for a list of 10,000 pods, none of them
in a cycle. The collector, run every 700 allocations, traverses them again and again while
they are built. A 72 MB list of 10,000 host pods took 2.9 s to decode with it running
(5.1 s with a runner's other objects alive) and 0.7 s with it paused. Reference counting
frees those objects once the list is dropped, so the collector never needs to see them.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """One pause shared by every holder: informers relist concurrently, and the collector
    runs again only once the last of them is done (if it ran before the first began)."""

    def __init__(self) -> None:
        self.holders = 0
        self.resume = False

    @contextmanager
    def held(self) -> Iterator[None]:
        if self.holders == 0:
            self.resume = gc.isenabled()
            gc.disable()
        self.holders += 1
        try:
            yield
        finally:
            self.holders -= 1
            if self.holders == 0 and self.resume:
                gc.enable()


collector_paused = _Pause().held
