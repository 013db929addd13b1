"""How values look in a command's output: one time format, no ``None``.

Every time reaper shows is ISO 8601 in UTC with ``Z`` (``2026-12-06T01:27:20Z``),
whatever its source wrote (CADF's ``+0000``, Python's ``+00:00``): an operator
compares times across commands and logs, and sorts them as text. A value
that is not there is an empty cell, never the word ``None``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def when(value: dt.datetime | str | None) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC; naive means UTC); ``""`` for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        if text.endswith("+0000"):
            text = text[:-5] + "+00:00"
        value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(value: Any) -> Any:
    """``value`` for a table cell: ``None`` becomes an empty cell."""
    return "" if value is None else value
