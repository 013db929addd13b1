"""A listener shortens the interpreter's switch interval, and never lengthens it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from reaper.events import gil


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_default_interval_is_shortened() -> None:
    sys.setswitchinterval(0.005)
    assert gil.shorten_switch_interval() == pytest.approx(gil.SWITCH_INTERVAL)
    assert sys.getswitchinterval() == pytest.approx(gil.SWITCH_INTERVAL)


def test_a_shorter_interval_is_left_alone() -> None:
    sys.setswitchinterval(0.0001)
    assert gil.shorten_switch_interval() == pytest.approx(0.0001)
