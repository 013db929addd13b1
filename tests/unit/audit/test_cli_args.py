"""How ``reaper audit show --since`` reads a time."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from reaper.cli.audit import parse_since

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - dt.timedelta(seconds=30)),
        ("90m", NOW - dt.timedelta(minutes=90)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("7d", NOW - dt.timedelta(days=7)),
        ("1w", NOW - dt.timedelta(weeks=1)),
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)),
        ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)),
        (
            "2024-05-01T12:00:00+02:00",
            dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
    ],
)
def test_since_is_a_time_or_a_duration_back_from_now(text: str, expected: dt.datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-1d", ""])
def test_anything_else_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since(text, now=NOW)
