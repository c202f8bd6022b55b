"""When a vcluster goes to sleep and when it wakes: pure decisions over times and idleness."""

import datetime as dt

from subkube.config.schedule import next_fire

INACTIVITY, SCHEDULE, MANUAL = "inactivity", "schedule", "manual"


def fired(schedule: str, timezone: str, since: dt.datetime, now: dt.datetime) -> bool:
    """Whether SCHEDULE (cron, read in TIMEZONE) fired after SINCE and not after NOW."""
    return bool(schedule) and next_fire(schedule, timezone, since) <= now


def sleep_reason(
    *,
    idle_for: float,
    after_inactivity: float,
    schedule: str,
    timezone: str,
    awake_since: dt.datetime,
    now: dt.datetime,
) -> str | None:
    """Why an awake vcluster should sleep now, if it should: its sleep schedule fired since
    it woke, or it has had no tenant traffic for AFTER_INACTIVITY seconds (0: never)."""
    if fired(schedule, timezone, awake_since, now):
        return SCHEDULE
    if after_inactivity and idle_for >= after_inactivity:
        return INACTIVITY
    return None
