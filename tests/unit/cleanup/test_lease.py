"""A claim's lease: kept alive while the work runs, and fencing a holder that lost it.

The store is real (SQLite); the cloud is scripted, with steps that take
longer than the lease.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time

import pytest

from reaper.audit.trail import AuditTrail
from reaper.cleanup.lease import Heartbeat, held_for_operator, left_by_dead_process
from reaper.executor import Result
from reaper.model import TombstoneState
from reaper.policy import PolicySet
from reaper.store import Claim, StateConflict, Store

from .fakes import PROJECT, FakeCloud, server
from .test_worker import SETTINGS, notified, worker

LEASE = dt.timedelta(seconds=0.6)
S1 = "delete:compute.server:s1"


def slow(seconds: float) -> object:
    def step() -> Result:
        time.sleep(seconds)
        return Result.DONE

    return step


class Rival(threading.Thread):
    """Another controller trying to claim whatever is due, every few milliseconds."""

    def __init__(self, store: Store, owner: str = "ctl-2:2:rival") -> None:
        super().__init__(daemon=True)
        self.store, self.owner = store, owner
        self.claimed: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            got = self.store.tombstones.claim_next(self.owner, lease=LEASE)
            if got is not None:
                self.claimed.append(got.id)
                self.store.tombstones.release(got.id, self.owner)


def test_the_heartbeat_keeps_a_run_longer_than_the_lease_from_being_claimed_again(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.inventory.resources = [server("s1")]
    cloud.results[S1] = slow(LEASE.total_seconds() * 3)
    notified(store)
    rival = Rival(store)
    rival.start()
    try:
        done = worker(
            store, trail, cloud, policies, dataclasses.replace(SETTINGS, lease=LEASE)
        ).work_once()
    finally:
        rival.done.set()
        rival.join()
    assert done is not None and done.state is TombstoneState.COMPLETE
    assert rival.claimed == []
    assert cloud.ran == [S1]  # once


def test_a_worker_whose_lease_was_taken_over_stops_and_changes_nothing_more(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    taken: list[Claim] = []

    def taken_over_meanwhile() -> Result:
        # The lease expired (a frozen process, a long GC pause) and another controller took it.
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        got = store.tombstones.claim_next("ctl-2:2:rival", lease=LEASE, now=later)
        assert got is not None
        taken.append(Claim.of(got))
        return Result.DONE

    cloud.inventory.resources = [server("s1")]
    cloud.results[S1] = taken_over_meanwhile
    notified(store)
    first = worker(store, trail, cloud, policies, dataclasses.replace(SETTINGS, lease=LEASE))
    assert first.work_once() is None  # it noticed, and let go
    row = store.tombstones.find(PROJECT)
    assert row is not None
    assert row.state is TombstoneState.EXECUTING  # not completed by the fenced worker
    assert Claim.of(row) == taken[0]


def test_a_lost_lease_halts_the_run(store: Store) -> None:
    notified(store)
    mine = store.tombstones.claim_next("ctl-1:1:mine", lease=LEASE)
    assert mine is not None
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert store.tombstones.claim_next("ctl-2:2:rival", lease=LEASE, now=later) is not None
    beat = Heartbeat(store.tombstones.renew, Claim.of(mine), LEASE, stop=threading.Event())
    with beat as halt:
        assert halt.wait(LEASE.total_seconds() * 2)
    assert beat.lost


def test_an_operator_run_holds_the_tombstone_and_gives_it_back_unchanged(store: Store) -> None:
    notified(store)
    with held_for_operator(
        store, PROJECT, "ops:1:apply", lease=LEASE, stop=threading.Event()
    ) as halt:
        row = store.tombstones.find(PROJECT)
        assert row is not None and row.claimed_by == "ops:1:apply"
        assert store.tombstones.claim_next("ctl-1:1:w", lease=LEASE) is None
        assert not halt.is_set()
    row = store.tombstones.find(PROJECT)
    assert row is not None
    assert (row.state, row.claimed_by) == (TombstoneState.RECEIVED, None)


def test_an_operator_run_is_refused_while_a_controller_holds_the_tombstone(store: Store) -> None:
    notified(store)
    assert store.tombstones.claim_next("ctl-1:1:w") is not None
    with (
        pytest.raises(StateConflict, match="claimed by ctl-1:1:w"),
        held_for_operator(store, PROJECT, "ops:1:apply", lease=LEASE, stop=threading.Event()),
    ):
        pytest.fail("an operator ran beside the controller")


def test_a_restarted_controller_frees_only_the_leases_its_dead_predecessors_held() -> None:
    assert not left_by_dead_process(f"host-a:{os.getpid()}:abcd", "host-a")  # this process
    assert left_by_dead_process("host-a:999999999:abcd", "host-a")  # no such process
    assert not left_by_dead_process("host-b:999999999:abcd", "host-a")  # another host's
    assert left_by_dead_process("host-a", "host-a")  # an older reaper's, host name only
