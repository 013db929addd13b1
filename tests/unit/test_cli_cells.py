"""One time format in every command's output, and empty cells instead of ``None``."""

from __future__ import annotations

import datetime as dt

import pytest

from reaper.cli.cells import cell, when

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 6, 1, 27, 20, 962440, tzinfo=UTC),
        dt.datetime(2026, 12, 6, 1, 27, 20),  # naive: the store's UTC
        dt.datetime(2026, 12, 6, 2, 27, 20, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "2026-12-06T01:27:20.962440+0000",  # CADF's eventTime
        "2026-12-06T01:27:20.962440+00:00",
        "2026-12-06T01:27:20Z",
    ],
)
def test_every_time_is_iso_8601_utc_with_z(value: dt.datetime | str) -> None:
    assert when(value) == "2026-12-06T01:27:20Z"


def test_no_time_and_no_value_are_empty_cells() -> None:
    assert when(None) == "" and when("") == ""
    assert cell(None) == "" and cell(0) == 0 and cell("x") == "x"
