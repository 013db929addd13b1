"""Confirmation listings slow down while nothing goes and speed up again once things do.

Driven by the injected monotonic clock: the gaps are the poller's own schedule,
not what a loaded machine's scheduler made of it.
"""

from __future__ import annotations

import threading

import pytest

from reaper.executor.clock import Clock
from reaper.executor.confirm import ConfirmationPoller
from reaper.executor.contract import Confirmation, Limits
from reaper.model import OutcomeStatus, Resource, ResourceRef, Step

LIMITS = Limits(confirm_interval=0.05, confirm_max_interval=0.2, confirm_timeout=600.0)
KEY = ("compute.server", "delete")


class Tick:
    """The injected monotonic clock: time moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Nova:
    """Lists every server still pending while busy, then lets one go per listing."""

    def __init__(self) -> None:
        self.busy = True

    def confirm(self, rtype: str, action: str, pending: dict[str, Resource]) -> Confirmation:
        if self.busy:
            return Confirmation()
        return Confirmation(gone=frozenset(sorted(pending)[:1]))


def server(rid: str) -> Step:
    return Step(id=f"delete:{rid}", action="delete", resource=ResourceRef("compute.server", rid))


def listing_gaps(nova: Nova, tick: Tick, quiet_listings: int, servers: int) -> list[float]:
    """The gap the poller schedules after each listing, quiet ones first."""
    done: list[tuple[str, OutcomeStatus, str]] = []
    lock = threading.Condition()
    poller = ConfirmationPoller(
        nova,  # type: ignore[arg-type]
        LIMITS,
        Clock(monotonic=tick),
        lock,
        lambda sid, status, reason: done.append((sid, status, reason)),
    )
    gaps: list[float] = []
    try:
        for i in range(servers):
            step = server(f"s{i}")
            poller.accepted(step, Resource(type="compute.server", id=f"s{i}", project_id="p"))
        listings = 0
        while len(done) < servers:
            nova.busy = listings < quiet_listings
            with lock:
                tick.now = poller.next_listing[KEY]
                assert poller.start_due() == []  # the listing due now has started
                assert lock.wait_for(lambda: KEY not in poller.listing, timeout=10)
                gaps.append(poller.next_listing[KEY] - tick.now)
            listings += 1
    finally:
        poller.shutdown()
    assert all(status is OutcomeStatus.DONE for _, status, _ in done)
    return gaps


def test_listings_that_find_nothing_gone_back_off_and_those_that_do_speed_up_again() -> None:
    gaps = listing_gaps(Nova(), Tick(), quiet_listings=5, servers=4)

    quiet, busy = gaps[:5], gaps[5:]
    # Growing by half while nothing goes, up to confirm_max_interval...
    assert quiet == pytest.approx([0.075, 0.1125, 0.16875, 0.2, 0.2])
    # ...and shorter again, a step per listing that finds something.
    assert busy == pytest.approx([0.16875, 0.1125, 0.075, 0.05])


class StaleVerdict:
    """Holds whose kept verdict went stale: due again now, held nothing when last asked."""

    def kinds(self) -> set:
        return set()

    def recheck_in(self) -> float:
        return 0.0


def test_a_stale_verdict_with_nothing_held_does_not_wake_the_run_before_a_listing_is_due() -> None:
    """The run's loop waits the shortest of these: a 0 there made it spin (a core's worth
    of CPU while a removal waited for its next listing)."""
    tick = Tick()
    poller = ConfirmationPoller(
        Nova(),  # type: ignore[arg-type]
        LIMITS,
        Clock(monotonic=tick),
        threading.Condition(),
        lambda sid, status, reason: None,
    )
    try:
        poller.accepted(server("s0"), Resource(type="compute.server", id="s0", project_id="p"))
        tick.now = poller.next_listing[KEY] - 0.03

        upcoming = poller.start_due(StaleVerdict())

        assert upcoming == [pytest.approx(0.03)]
        assert poller.listing == set()
    finally:
        poller.shutdown()
