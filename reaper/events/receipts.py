"""The ``receive`` record of each notification: what became of it, for the audit trail.

Every message the endpoint is handed gets one: a tombstone's trigger (new,
a duplicate, or one that reopened a finished tombstone) or a rejection
saying why reaper will not act on it. Drafts only, built without I/O; the
endpoint appends them in the transaction that records the tombstones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from reaper.audit.record import (
    AuditAction,
    AuditOutcome,
    AuditReason,
    AuditTarget,
    RecordDraft,
    Shared,
)
from reaper.audit.trail import AuditTrail
from reaper.events import keystone
from reaper.model import IdentityEvent, Trigger


def drafts(
    trail: AuditTrail,
    results: Sequence[tuple[IdentityEvent | keystone.Rejected, Trigger | None, Any]],
    reopened: set[str],
    *,
    received_at: dt.datetime | None = None,
) -> list[tuple[RecordDraft, str, str]]:
    """The ``receive`` record of each message, with its (event type, outcome) for metrics.

    ``received_at`` (when the batch arrived, its triggers' time) is every
    record's event time: what a ``receive`` record reports happened then.
    The records are built together (``record.Shared``), so what they have
    in common is converted and scrubbed once per batch, and the first
    describes reaper's initiator and observer in full, the others name them
    by id (``reaper.audit.record``): they are appended together, in order
    and contiguous, in one transaction.
    """
    shared = Shared()
    found: list[tuple[RecordDraft, str, str]] = []
    for item, trigger, result in results:
        actor_ids = bool(found)
        if isinstance(item, IdentityEvent):
            assert result is not None
            what = "duplicate" if result.duplicate else "recorded"
            if result.tombstone.id in reopened:
                what = f"recorded; reopened the {result.tombstone.state.value} tombstone"
            draft = trail.draft(
                action=AuditAction.RECEIVE,
                outcome=AuditOutcome.SUCCESS,
                target=AuditTarget.for_identity(item.identity),
                reason=f"{item.event_type} ({item.format}) {what}",
                tombstone_id=result.tombstone.id,
                trigger=trigger,
                extra={"publisher_id": item.publisher_id, "duplicate": result.duplicate},
                event_time=received_at,
                shared=shared,
                actor_ids=actor_ids,
            )
            found.append((draft, item.event_type, what))
        else:
            draft = rejection(trail, item, event_time=received_at, actor_ids=actor_ids)
            found.append((draft, item.event_type or "?", f"rejected_{item.code}"))
    return found


def rejection(
    trail: AuditTrail,
    item: keystone.Rejected,
    *,
    code: str | None = None,
    event_time: dt.datetime | None = None,
    actor_ids: bool = False,
) -> RecordDraft:
    """The ``receive`` failure record of a message reaper will not act on.

    ``actor_ids`` only for a record appended after one of the same batch.
    """
    code = code or item.code
    return trail.draft(
        event_time=event_time,
        actor_ids=actor_ids,
        action=AuditAction.RECEIVE,
        outcome=AuditOutcome.FAILURE,
        target=AuditTarget.for_notification(item.message_ref),
        reason=AuditReason.error(f"rejected ({code}): {item.reason}"),
        extra={"event_type": item.event_type, "code": code},
    )
