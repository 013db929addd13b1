"""Tombstones: one per identity, deduplicated triggers, CAS transitions, leases."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from reaper.model import IdentityKind, IdentityRef, TombstoneState, Trigger, TriggerSource
from reaper.store import Claim, NotFound, StateConflict, Store

pytestmark = pytest.mark.functional

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
LEASE = dt.timedelta(minutes=10)


def project(n: int = 1) -> IdentityRef:
    return IdentityRef(IdentityKind.PROJECT, f"{n:032x}")


def notification(message_id: str | None, event: str = "identity.project.deleted") -> Trigger:
    return Trigger(
        TriggerSource.NOTIFICATION,
        event_type=event,
        message_id=message_id,
        initiator={"id": "admin", "name": "admin"},
        received_at=T0,
    )


# -- create-or-get and dedupe ------------------------------------------------


def test_the_first_trigger_creates_a_received_tombstone(store: Store) -> None:
    result = store.tombstones.record_trigger(project(), notification("m1"), now=T0)

    assert (result.created, result.duplicate) == (True, False)
    tomb = result.tombstone
    assert tomb.identity == project()
    assert tomb.state is TombstoneState.RECEIVED
    assert tomb.triggers == (notification("m1"),)
    assert (tomb.attempts, tomb.claimed_by, tomb.plan_hash) == (0, None, None)
    assert tomb.created_at == T0
    assert store.tombstones.get(tomb.id) == tomb


def test_a_redelivered_message_is_a_duplicate_and_adds_nothing(store: Store) -> None:
    first = store.tombstones.record_trigger(project(), notification("m1"))
    again = store.tombstones.record_trigger(project(), notification("m1"))

    assert (again.created, again.duplicate) == (False, True)
    assert again.tombstone.id == first.tombstone.id
    assert len(again.tombstone.triggers) == 1


def test_a_known_message_id_is_recognised_after_the_tombstone_moved_on(store: Store) -> None:
    first = store.tombstones.record_trigger(project(), notification("m1"))
    store.tombstones.transition(first.tombstone.id, TombstoneState.COMPLETE)

    again = store.tombstones.record_trigger(project(), notification("m1"))

    assert again.duplicate
    assert again.tombstone.state is TombstoneState.COMPLETE
    assert store.tombstones.by_message_id("m1") == again.tombstone


def test_another_notification_for_the_same_identity_joins_its_tombstone(store: Store) -> None:
    first = store.tombstones.record_trigger(project(), notification("m1"))
    second = store.tombstones.record_trigger(
        project(), notification("m2", "identity.project.updated")
    )
    sweep = store.tombstones.record_trigger(project(), Trigger(TriggerSource.SWEEP))

    assert (second.created, second.duplicate) == (False, False)
    assert second.tombstone.id == sweep.tombstone.id == first.tombstone.id
    assert [t.message_id for t in sweep.tombstone.triggers] == ["m1", "m2", None]
    assert sweep.tombstone.triggers[2].source is TriggerSource.SWEEP


def test_identities_of_different_kinds_with_one_id_are_different_tombstones(
    store: Store,
) -> None:
    a = store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI))
    b = store.tombstones.record_trigger(
        IdentityRef(IdentityKind.USER, project().id), Trigger(TriggerSource.CLI)
    )

    assert a.tombstone.id != b.tombstone.id


def test_concurrent_deliveries_make_one_tombstone(store: Store) -> None:
    results = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        r = store.tombstones.record_trigger(project(), notification(f"m{i % 4}"))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len({r.tombstone.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert sum(not r.duplicate for r in results) == 4
    tomb = store.tombstones.find(project())
    assert tomb is not None
    assert sorted(t.message_id or "" for t in tomb.triggers) == ["m0", "m1", "m2", "m3"]


def test_an_unknown_tombstone_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.tombstones.get("no-such-id")
    assert store.tombstones.find(project(99)) is None
    assert store.tombstones.by_message_id("never") is None


# -- transitions -------------------------------------------------------------


def test_a_transition_moves_state_and_records_what_it_was_given(store: Store) -> None:
    tomb = store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI)).tombstone
    later = T0 + dt.timedelta(hours=1)

    moved = store.tombstones.transition(
        tomb.id,
        TombstoneState.DEFERRED,
        expected={TombstoneState.RECEIVED},
        reason="grace period",
        next_attempt_at=later,
    )

    assert moved.state is TombstoneState.DEFERRED
    assert moved.reason == "grace period"
    assert moved.next_attempt_at == later


def test_a_transition_from_an_unexpected_state_changes_nothing(store: Store) -> None:
    tomb = store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI)).tombstone
    store.tombstones.transition(tomb.id, TombstoneState.REFUSED, reason="still exists")

    with pytest.raises(StateConflict, match="refused"):
        store.tombstones.transition(
            tomb.id, TombstoneState.PLANNED, expected={TombstoneState.VERIFIED}
        )

    assert store.tombstones.get(tomb.id).state is TombstoneState.REFUSED


def test_only_the_lease_holder_moves_a_claimed_tombstone(store: Store) -> None:
    tomb = store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI)).tombstone
    store.tombstones.claim(tomb.id, "controller-a")

    with pytest.raises(StateConflict, match="controller-a"):
        store.tombstones.transition(tomb.id, TombstoneState.VERIFIED, owner="controller-b")

    done = store.tombstones.transition(
        tomb.id, TombstoneState.VERIFIED, owner="controller-a", release=True
    )
    assert (done.state, done.claimed_by) == (TombstoneState.VERIFIED, None)


def test_transitions_of_an_unknown_tombstone_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.tombstones.transition("nope", TombstoneState.VERIFIED)


# -- claiming ----------------------------------------------------------------


def test_claiming_leases_the_oldest_due_tombstone_and_counts_an_attempt(store: Store) -> None:
    for n in (1, 2, 3):
        store.tombstones.record_trigger(
            project(n), Trigger(TriggerSource.CLI), now=T0 + dt.timedelta(seconds=n)
        )

    claimed = store.tombstones.claim_next("controller-a", now=T0 + dt.timedelta(minutes=1))

    assert claimed is not None
    assert claimed.identity == project(1)
    assert (claimed.claimed_by, claimed.attempts) == ("controller-a", 1)


def test_tombstones_not_yet_due_held_or_final_are_not_claimed(store: Store) -> None:
    ids = [
        store.tombstones.record_trigger(project(n), Trigger(TriggerSource.CLI)).tombstone.id
        for n in (1, 2, 3, 4)
    ]
    store.tombstones.transition(
        ids[0], TombstoneState.DEFERRED, next_attempt_at=T0 + dt.timedelta(days=1)
    )
    store.tombstones.transition(ids[1], TombstoneState.HELD)
    store.tombstones.transition(ids[2], TombstoneState.COMPLETE)
    store.tombstones.transition(ids[3], TombstoneState.REFUSED)

    assert store.tombstones.claim_next("c", now=T0) is None
    due = store.tombstones.claim_next("c", now=T0 + dt.timedelta(days=2))
    assert due is not None and due.id == ids[0]


def test_a_leased_tombstone_is_skipped_until_its_lease_expires(store: Store) -> None:
    store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI), now=T0)
    first = store.tombstones.claim_next("controller-a", lease=LEASE, now=T0)
    assert first is not None

    assert store.tombstones.claim_next("controller-b", lease=LEASE, now=T0 + LEASE / 2) is None

    taken_over = store.tombstones.claim_next("controller-b", lease=LEASE, now=T0 + LEASE * 2)
    assert taken_over is not None
    assert (taken_over.claimed_by, taken_over.attempts) == ("controller-b", 2)


def test_an_expired_lease_claimed_again_gets_a_new_token_and_fences_the_old_holder(
    store: Store,
) -> None:
    store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI), now=T0)
    first = store.tombstones.claim_next("controller-a", lease=LEASE, now=T0)
    assert first is not None
    old = Claim.of(first)

    # Even under the same owner string, the new claim has a token of its own.
    again = store.tombstones.claim_next("controller-a", lease=LEASE, now=T0 + LEASE * 2)
    assert again is not None
    new = Claim.of(again)
    assert new.token > old.token

    assert not store.tombstones.renew(old, now=T0 + LEASE * 2)
    with pytest.raises(StateConflict, match="claim"):
        store.tombstones.transition(first.id, TombstoneState.COMPLETE, claim=old)
    assert store.tombstones.get(first.id).state is TombstoneState.RECEIVED
    moved = store.tombstones.transition(first.id, TombstoneState.EXECUTING, claim=new)
    assert moved.state is TombstoneState.EXECUTING


def test_a_renewed_lease_is_not_claimed_by_another_controller(store: Store) -> None:
    store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI), now=T0)
    held = store.tombstones.claim_next("controller-a", lease=LEASE, now=T0)
    assert held is not None
    for n in (1, 2, 3):  # a heartbeat at a third of the lease, for three leases
        assert store.tombstones.renew(Claim.of(held), now=T0 + LEASE * n)

    assert store.tombstones.claim_next("controller-b", lease=LEASE, now=T0 + LEASE * 3.5) is None
    taken = store.tombstones.claim_next("controller-b", lease=LEASE, now=T0 + LEASE * 4.5)
    assert taken is not None and taken.claimed_by == "controller-b"


def test_claiming_a_tombstone_someone_else_holds_is_a_conflict(store: Store) -> None:
    tomb = store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI)).tombstone
    store.tombstones.claim(tomb.id, "controller-a")

    with pytest.raises(StateConflict, match="controller-a"):
        store.tombstones.claim(tomb.id, "operator")
    assert store.tombstones.claim(tomb.id, "controller-a").claimed_by == "controller-a"


def test_a_released_tombstone_can_be_claimed_again(store: Store) -> None:
    store.tombstones.record_trigger(project(), Trigger(TriggerSource.CLI))
    tomb = store.tombstones.claim_next("controller-a")
    assert tomb is not None

    assert store.tombstones.release(tomb.id, "controller-b").claimed_by == "controller-a"
    assert store.tombstones.release(tomb.id, "controller-a").claimed_by is None
    again = store.tombstones.claim_next("controller-b")
    assert again is not None and again.id == tomb.id


def test_concurrent_workers_never_claim_the_same_tombstone(store: Store) -> None:
    for n in range(20):
        store.tombstones.record_trigger(project(n), Trigger(TriggerSource.CLI))
    claims: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (tomb := store.tombstones.claim_next(name)) is not None:
            with lock:
                claims.append(tomb.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(claims) == 20
    assert len(set(claims)) == 20


def test_listing_shows_tombstones_with_their_triggers(store: Store) -> None:
    store.tombstones.record_trigger(project(1), notification("m1"), now=T0)
    b = store.tombstones.record_trigger(
        project(2), notification("m2"), now=T0 + dt.timedelta(seconds=1)
    )
    store.tombstones.transition(b.tombstone.id, TombstoneState.HELD, now=T0 + dt.timedelta(1))

    everything = store.tombstones.list()
    held = store.tombstones.list(states={TombstoneState.HELD})

    assert [t.identity for t in everything] == [project(2), project(1)]
    assert [t.triggers[0].message_id for t in everything] == ["m2", "m1"]
    assert [t.identity for t in held] == [project(2)]
