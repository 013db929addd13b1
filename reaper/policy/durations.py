"""Durations as policies write them: a whole number and one unit, ``7d``.

One unit per value keeps a grace period readable at a glance in a review
(``36h``, not ``1d12h``), and it is the same syntax the ``evidence_snapshot``
action already accepts for ``retention``.
"""

from __future__ import annotations

import datetime as dt
import re

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: JSON-schema pattern of a duration.
PATTERN = r"^[0-9]+[smhdw]$"
_RE = re.compile(PATTERN)


def parse_duration(text: str) -> dt.timedelta:
    """``"7d"`` -> 7 days; raises ValueError for anything else."""
    if not isinstance(text, str) or not _RE.match(text):
        raise ValueError(f"{text!r} is not a duration such as 7d, 12h, 30m or 2w")
    return dt.timedelta(seconds=int(text[:-1]) * UNITS[text[-1]])


def format_duration(delta: dt.timedelta) -> str:
    """An exact spelling in the largest unit up to days: 604800s -> ``7d``."""
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"
