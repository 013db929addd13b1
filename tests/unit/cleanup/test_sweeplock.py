"""The sweep lease fails closed: a renewal the database does not confirm ends the sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest
from structlog.testing import capture_logs

from reaper.cleanup.sweeplock import LockLost, SweepLock


class Slots:
    """``budget_slots`` as the lease sees it: a renewal keeps the row, loses it, or fails."""

    def __init__(self, answer: str = "kept") -> None:
        self.answer = answer
        self.renewals = 0

    def renew(
        self, held: Iterable[tuple[str, int]], holder: str, *, lease: dt.timedelta
    ) -> set[tuple[str, int]]:
        self.renewals += 1
        if self.answer == "error":
            raise ConnectionError("could not connect to server: Connection refused\nmore")
        return set(held) if self.answer == "kept" else set()

    def release(self, held: Iterable[tuple[str, int]], holder: str) -> None:
        pass


def lease(slots: Slots) -> SweepLock:
    return SweepLock(slots, held=True, holder="ctl-1:42:abcd", keepalive=3600)  # type: ignore[arg-type]


def test_ensure_renews_the_lease_and_returns_while_the_row_is_this_controllers() -> None:
    slots = Slots("kept")
    lock = lease(slots)
    lock.ensure()
    lock.ensure()
    assert slots.renewals == 2 and not lock.lost.is_set()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("taken", "the lease is no longer this controller's"),
        ("error", "could not connect to server: Connection refused"),
    ],
)
def test_a_renewal_not_confirmed_loses_the_lock_for_good_and_says_so_once(
    answer: str, why: str
) -> None:
    slots = Slots(answer)
    lock = lease(slots)
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(LockLost, match="lost"):
                lock.ensure()
    slots.answer = "kept"
    with pytest.raises(LockLost):
        lock.ensure()  # a later good answer does not bring it back: the sweep already stopped
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e["error"]) for e in errors] == [
        ("sweep lock lost: this controller's sweep stops", why)
    ]


def test_a_refused_lock_never_lets_the_sweep_write() -> None:
    with pytest.raises(LockLost, match="does not hold"):
        SweepLock(Slots(), held=False).ensure()  # type: ignore[arg-type]
