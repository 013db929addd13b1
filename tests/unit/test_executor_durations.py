"""The first confirmation listing of a kind waits for what its removals usually took.

Pure: :class:`Durations` is fed confirmations; the poller is driven by an
injected clock and asked when it schedules its first listing.
"""

from __future__ import annotations

import threading

import pytest

from reaper.executor.clock import Clock
from reaper.executor.confirm import ConfirmationPoller
from reaper.executor.contract import Confirmation, Limits
from reaper.executor.durations import Durations
from reaper.model import OutcomeStatus, Resource, ResourceRef, Step

KEY = ("compute.server", "delete")
LIMITS = Limits(confirm_interval=0.5, confirm_max_interval=2.0, confirm_timeout=600.0)


def test_before_any_confirmation_the_first_listing_waits_the_interval() -> None:
    assert Durations().first_wait(KEY, 0.5, 600.0) == 0.5


def test_a_late_confirmation_sets_the_wait_within_bounds() -> None:
    durations = Durations()
    durations.confirmed(KEY, 2.0, first=True)  # nothing learned yet: nothing to shrink
    assert durations.typical(KEY) is None
    durations.confirmed(KEY, 9.0, first=False)
    assert durations.first_wait(KEY, 0.5, 600.0) == 9.0
    durations.confirmed(KEY, 2.5, first=False)  # the service got faster, and said so
    assert durations.first_wait(KEY, 0.5, 600.0) == 2.5
    assert durations.first_wait(KEY, 3.0, 600.0) == 3.0  # never sooner than the interval
    assert durations.first_wait(KEY, 0.5, 4.0) == 2.0  # never past half the timeout
    assert durations.first_wait(("block_storage.volume", "delete"), 0.5, 600.0) == 0.5


def test_confirmations_by_first_listings_shrink_the_wait_so_a_faster_service_is_followed() -> None:
    durations = Durations()
    durations.confirmed(KEY, 30.0, first=False)  # a slow spell
    waits = []
    while (wait := durations.first_wait(KEY, 0.5, 600.0)) > 2.0:
        waits.append(wait)
        durations.confirmed(KEY, wait, first=True)  # the service is fast again
    assert waits[:2] == [30.0, 28.5]
    assert len(waits) == 53  # 30 s down to 2 s at 5% a listing
    durations.confirmed(KEY, 2.6, first=False)  # too early once: set again
    assert durations.typical(KEY) == 2.6


class Nova:
    """Shows every server until ``gone_after`` listings were made, then none."""

    def __init__(self, gone_after: int) -> None:
        self.gone_after = gone_after
        self.listings = 0

    def confirm(self, rtype: str, action: str, pending: dict[str, Resource]) -> Confirmation:
        self.listings += 1
        if self.listings < self.gone_after:
            return Confirmation()
        return Confirmation(gone=frozenset(pending))


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def confirm_two(nova: Nova, durations: Durations, tick: Tick) -> tuple[float, int]:
    """Two servers accepted at once: when the first listing is due, and listings made."""
    done: list[OutcomeStatus] = []
    lock = threading.Condition()
    poller = ConfirmationPoller(
        nova,  # type: ignore[arg-type]
        LIMITS,
        Clock(monotonic=tick),
        lock,
        lambda sid, status, reason: done.append(status),
        durations=durations,
    )
    accepted = tick.now
    try:
        for rid in ("s1", "s2"):
            step = Step(id=rid, action="delete", resource=ResourceRef("compute.server", rid))
            poller.accepted(step, Resource(type="compute.server", id=rid, project_id="p"))
        first = poller.next_listing[KEY] - accepted
        while len(done) < 2:
            with lock:
                tick.now = poller.next_listing[KEY]
                poller.start_due()
                assert lock.wait_for(lambda: KEY not in poller.listing, timeout=10)
    finally:
        poller.shutdown()
    assert done == [OutcomeStatus.DONE, OutcomeStatus.DONE]
    return first, nova.listings


def test_a_plan_s_first_listing_waits_as_long_as_an_earlier_plan_s_removals_took() -> None:
    durations, tick = Durations(), Tick()
    # The first plan learns: three listings, the last 0.5 + 0.75 + 1.125 s after acceptance.
    first, listings = confirm_two(Nova(gone_after=3), durations, tick)
    assert (first, listings) == (0.5, 3)
    assert durations.typical(KEY) == pytest.approx(2.375)
    # The next one lists once, when they are usually gone: still by a listing.
    tick.now += 100
    first, listings = confirm_two(Nova(gone_after=1), durations, tick)
    assert (first, listings) == (pytest.approx(2.375), 1)
    assert durations.typical(KEY) == pytest.approx(2.375 * 0.95)
    # Without the process's memory, every plan starts from the interval again.
    tick.now += 100
    assert confirm_two(Nova(gone_after=3), Durations(), tick) == (0.5, 3)
