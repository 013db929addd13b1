"""The listener's endpoint records a batch as one unit: tombstones and receipts together."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import oslo_messaging
import pytest
from sqlalchemy import create_engine, text

from reaper.audit.record import Actor
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup.lifecycle import Reopener
from reaper.events.listener import IdentityEndpoint
from reaper.metrics import Metrics
from reaper.model import IdentityKind, IdentityRef
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
    return IdentityEndpoint(store, trail, reopener=Reopener(store))


def receipts(store: Store) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in AuditRepository(store.db).records()]


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

    result = IdentityEndpoint(store, trail, reopener=Reopener(store), metrics=metrics).info(
        [deletion(b) for b in bad]
    )

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


def test_a_message_id_no_column_can_hold_is_audited_and_the_batch_goes_through(
    store: Store,
) -> None:
    """On PostgreSQL such a batch was refused and requeued forever (issue 13, item 13)."""
    good = uuid.uuid4().hex
    long_id, nul_id = "m" * 300, "a\x00b"
    batch = [
        deletion(uuid.uuid4().hex, message_id=long_id),
        deletion(good),
        deletion(uuid.uuid4().hex, message_id=nul_id),
    ]

    result = endpoint(store).info(batch)

    assert result == oslo_messaging.NotificationResult.HANDLED
    assert [t.identity.id for t in store.tombstones.list()] == [good]
    rejected = [r for r in receipts(store) if r["outcome"] == "failure"]
    assert [r["reaper"]["extra"]["code"] for r in rejected] == ["bad_field", "bad_field"]
    assert [r["target"]["id"] for r in rejected] == [
        "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16] for v in (long_id, nul_id)
    ]


def refuse_message_id(url: str, poison: str) -> None:
    """Make the database itself refuse one message id, as no check of reaper's foresaw."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.message_id = '{poison}' THEN RAISE EXCEPTION 'no poison here'; "
                    "END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON tombstone_triggers "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        elif engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON tombstone_triggers FOR EACH ROW "
                    f"IF NEW.message_id = '{poison}' THEN "
                    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no poison here'; END IF"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON tombstone_triggers "
                    f"WHEN NEW.message_id = '{poison}' "
                    "BEGIN SELECT RAISE(ABORT, 'no poison here'); END"
                )
            )
    engine.dispose()


def test_a_message_the_store_refuses_for_an_unforeseen_reason_stalls_nothing(
    store: Store, store_url: str
) -> None:
    refuse_message_id(store_url, "poison")
    good = [uuid.uuid4().hex for _ in range(2)]
    batch = [deletion(good[0]), deletion(uuid.uuid4().hex, message_id="poison"), deletion(good[1])]

    result = endpoint(store).info(batch)

    assert result == oslo_messaging.NotificationResult.HANDLED
    assert sorted(t.identity.id for t in store.tombstones.list()) == sorted(good)
    (refused,) = [r for r in receipts(store) if r["outcome"] == "failure"]
    assert refused["reaper"]["extra"]["code"] == "unstorable"
    assert refused["target"]["id"] == "poison"
    assert "no poison here" in json.dumps(refused["reason"])


def test_a_creation_fills_the_directory_and_opens_no_tombstone(store: Store) -> None:
    """Issue 13, item 10: what reaper saw alive is what a later deletion may act on."""
    created_id, deleted_id = uuid.uuid4().hex, uuid.uuid4().hex
    creation = {**deletion(created_id), "event_type": "identity.project.created"}
    bogus = {**deletion("*"), "event_type": "identity.project.created"}

    result = endpoint(store).info([creation, bogus, deletion(deleted_id)])

    assert result == oslo_messaging.NotificationResult.HANDLED
    assert [t.identity.id for t in store.tombstones.list()] == [deleted_id]
    seen = store.directory.get(IdentityRef(IdentityKind.PROJECT, created_id))
    assert seen is not None and seen.source == "notification"
    assert store.directory.get(IdentityRef(IdentityKind.PROJECT, "*")) is None
