"""The listener's batch path records triggers exactly like one-at-a-time recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from reaper.model import IdentityKind, IdentityRef, TombstoneState, Trigger, TriggerSource
from reaper.store import Store

pytestmark = pytest.mark.functional

P1 = IdentityRef(IdentityKind.PROJECT, "a" * 32)
P2 = IdentityRef(IdentityKind.PROJECT, "b" * 32)
U1 = IdentityRef(IdentityKind.USER, "a" * 32)


def note(message_id: str | None) -> Trigger:
    return Trigger(
        TriggerSource.NOTIFICATION, event_type="identity.project.deleted", message_id=message_id
    )


def test_a_batch_creates_one_tombstone_per_identity_and_flags_redeliveries(store: Store) -> None:
    results = store.tombstones.record_triggers(
        [
            (P1, note("m1")),
            (P2, note("m2")),
            (P1, note("m3")),  # Keystone announced P1 twice
            (P2, note("m2")),  # a redelivery inside the same batch
            (U1, note("m4")),  # same id, other kind: another identity
        ]
    )
    assert [(r.created, r.duplicate) for r in results] == [
        (True, False),
        (True, False),
        (False, False),
        (False, True),
        (True, False),
    ]
    assert results[0].tombstone.id == results[2].tombstone.id
    assert results[0].tombstone.id != results[4].tombstone.id
    assert len(store.tombstones.get(results[0].tombstone.id).triggers) == 2
    assert len(store.tombstones.get(results[1].tombstone.id).triggers) == 1
    assert all(r.tombstone.state is TombstoneState.RECEIVED for r in results)


def test_a_later_batch_finds_what_earlier_ones_recorded(store: Store) -> None:
    first = store.tombstones.record_trigger(P1, note("m1"))
    again = store.tombstones.record_triggers([(P1, note("m1")), (P1, note("m9")), (P1, note(None))])
    assert [(r.created, r.duplicate) for r in again] == [
        (False, True),
        (False, False),
        (False, False),
    ]
    assert {r.tombstone.id for r in again} == {first.tombstone.id}
    assert len(store.tombstones.get(first.tombstone.id).triggers) == 3


def test_an_empty_batch_records_nothing(store: Store) -> None:
    assert store.tombstones.record_triggers([]) == []
    assert store.tombstones.list() == []


def test_a_batch_of_new_and_known_identities_tells_them_apart(store: Store) -> None:
    known = store.tombstones.record_trigger(P1, note("m1"))
    results = store.tombstones.record_triggers([(P2, note("m2")), (P1, note("m3"))])
    assert [(r.created, r.duplicate) for r in results] == [(True, False), (False, False)]
    assert results[1].tombstone.id == known.tombstone.id
    assert results[0].tombstone.id != known.tombstone.id
    assert store.tombstones.get(results[0].tombstone.id).identity == P2


def test_finding_a_batchs_tombstones_searches_the_identity_index(tmp_path: Path) -> None:
    """Intake must not slow down as tombstones accumulate: no full scan per batch."""
    store = Store.open(f"sqlite:///{tmp_path / 'reaper.db'}")
    selects: list[tuple[str, Any]] = []

    @event.listens_for(store.db.engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM tombstones" in statement:
            selects.append((statement, params))

    store.tombstones.record_trigger(P1, note("m1"))
    store.tombstones.record_triggers([(P1, note("m2")), (P2, note("m3"))])
    assert selects, "a batch with a known identity reads the tombstones back"
    with store.db.engine.connect() as conn:
        for statement, params in selects:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            details = " ".join(row[-1] for row in plan)
            assert "SCAN tombstones" not in details, details
    store.close()
