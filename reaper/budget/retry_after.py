"""``Retry-After``: seconds or an HTTP-date, read into seconds from now.

RFC 9110 allows both forms (``Retry-After: 120`` and ``Retry-After: Fri,
31 Dec 2026 23:59:59 GMT``); a service behind a rate-limiting proxy often
sends the second. Anything unreadable is no hint at all (``None``), never
an error: the caller then pauses by its own rule. A date in the past means
"now" (``0.0``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import Any


def seconds(value: str | None, now: dt.datetime) -> float | None:
    """The wait ``value`` asks for, in seconds from ``now`` (an aware UTC time)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # obsolete forms without a zone are GMT (RFC 9110 5.6.7)
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def of_headers(headers: Mapping[str, Any] | None, now: dt.datetime) -> float | None:
    """``Retry-After`` of a response's headers (case-insensitive, as requests gives them)."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    return seconds(value, now)
