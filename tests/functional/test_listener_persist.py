"""The listener's endpoint records a batch as one unit: tombstones and receipts together."""

from __future__ import annotations

import json
import uuid
from typing import Any

import oslo_messaging
import pytest
from sqlalchemy import text

from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.events.listener import IdentityEndpoint
from reaper.metrics import Metrics
from reaper.store import Store

pytestmark = pytest.mark.functional


def deletion(project_id: str, message_id: str | None = None) -> dict[str, Any]:
    return {
        "ctxt": {},
        "publisher_id": "identity.keystone-1",
        "event_type": "identity.project.deleted",
        "payload": {"resource_info": project_id},
        "metadata": {"message_id": message_id or str(uuid.uuid4())},
    }


def endpoint(store: Store) -> IdentityEndpoint:
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
    return IdentityEndpoint(store, trail)


def receipts(store: Store) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in store.audit.records()]


def test_each_notification_of_a_batch_gets_its_tombstone_and_its_receipt(store: Store) -> None:
    projects = [uuid.uuid4().hex for _ in range(3)]
    repeated = deletion(projects[0])
    batch = [deletion(p) for p in projects] + [repeated, repeated, {"event_type": "garbage"}]

    result = endpoint(store).info(batch)

    assert result == oslo_messaging.NotificationResult.HANDLED
    tombstones = {t.identity.id: t for t in store.tombstones.list()}
    assert sorted(tombstones) == sorted(projects)
    records = receipts(store)
    assert len(records) == len(batch)
    by_tombstone = [r["reaper"].get("tombstone_id") for r in records]
    assert by_tombstone[:3] == [tombstones[p].id for p in projects]
    assert [r["reaper"]["extra"]["duplicate"] for r in records[3:5]] == [False, True]
    assert records[5]["outcome"] == "failure"


def test_a_batch_whose_receipts_cannot_be_written_records_nothing_and_is_requeued(
    store: Store,
) -> None:
    """One commit: a tombstone never exists without the record of what opened it."""
    with store.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_records RENAME TO audit_records_away"))

    result = endpoint(store).info([deletion(uuid.uuid4().hex), deletion(uuid.uuid4().hex)])

    assert result == oslo_messaging.NotificationResult.REQUEUE
    assert store.tombstones.list() == []


def test_ids_keystone_never_made_are_audited_and_counted_but_open_no_tombstone(
    store: Store,
) -> None:
    """``%``, ``*`` and a live id in upper case were each cleaned up as "deleted" (#13.10)."""
    live = uuid.uuid4().hex
    metrics = Metrics()
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
    bad = ["%", "*", live.upper()]

    result = IdentityEndpoint(store, trail, metrics=metrics).info([deletion(b) for b in bad])

    assert result == oslo_messaging.NotificationResult.HANDLED
    assert store.tombstones.list() == []
    records = receipts(store)
    assert [(r["outcome"], r["reaper"]["extra"]["code"]) for r in records] == [
        ("failure", "bad_id")
    ] * 3
    rejected = metrics.notifications.labels(
        event_type="identity.project.deleted", outcome="rejected_bad_id"
    )
    assert rejected._value.get() == 3
