"""Durations: a whole number and one unit."""

from __future__ import annotations

import datetime as dt

import pytest

from reaper.policy.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600), ("0d", 0)],
)
def test_units(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["7", "d", "7x", "1d12h", "-1d", "7 d", " 7d", "1.5h", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(604800, "7d"), (1209600, "14d"), (43200, "12h"), (90, "90s")]
)
def test_formatting_uses_the_largest_exact_unit_up_to_days(seconds: int, text: str) -> None:
    assert format_duration(dt.timedelta(seconds=seconds)) == text
