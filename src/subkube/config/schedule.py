"""Durations ("90s", "1h30m") and cron schedules with a time zone, as the config holds them."""

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> dt.timedelta:
    """A Go-style duration (what kubectl and vCluster take): 20s, 5m, 1h30m, 1.5h."""
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration; use e.g. 20s, 5m, 1h30m")
    return dt.timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from exc


def check_schedule(expr: str) -> None:
    try:
        CronSim(expr, dt.datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"{expr!r} is not a cron schedule ({exc})") from exc


def next_fire(expr: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first time EXPR fires strictly after AFTER (an aware datetime), in UTC."""
    local = after.astimezone(check_timezone(timezone)).replace(second=0, microsecond=0)
    return next(CronSim(expr, local)).astimezone(dt.UTC)
