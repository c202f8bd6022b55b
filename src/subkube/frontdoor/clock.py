"""The wall clock that sleep and wake schedules are read against.

Test hook: when SUBKUBE_TEST_CLOCK names a file, "now" is the ISO 8601 time written in it
(read at every look), so a test can move a vcluster's clock to the minute a schedule fires.
Unset, as in every real deployment, it is the system clock.
"""

import datetime as dt
import os
from pathlib import Path

TEST_CLOCK_ENV = "SUBKUBE_TEST_CLOCK"


def controlled() -> bool:
    return bool(os.environ.get(TEST_CLOCK_ENV))


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    path = os.environ.get(TEST_CLOCK_ENV)
    if path:
        try:
            return dt.datetime.fromisoformat(Path(path).read_text().strip()).astimezone(dt.UTC)
        except (OSError, ValueError):
            # Mid-write or not there yet: the real time is the best guess for this tick.
            pass
    return dt.datetime.now(dt.UTC)
