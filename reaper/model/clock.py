"""The time the domain uses: aware UTC, read from one function."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, in UTC and timezone-aware: every time reaper stores or compares."""
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: str | dt.datetime | None) -> dt.datetime | None:
    """An ISO 8601 time as written by :func:`reaper.canonical.jsonable` (``Z`` allowed)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
