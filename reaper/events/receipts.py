"""The ``receive`` record of each notification: what became of it, for the audit trail.

Every message the endpoint is handed gets one: a tombstone's trigger (new,
a duplicate, or one that reopened a finished tombstone) or a rejection
saying why reaper will not act on it. Drafts only, built without I/O; the
endpoint appends them in the transaction that records the tombstones.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reaper.audit.chain import Sealable
from reaper.audit.record import (
    AuditAction,
    AuditOutcome,
    AuditReason,
    AuditTarget,
    RecordDraft,
    Shared,
    value_key,
)
from reaper.audit.template import Template
from reaper.audit.trail import AuditTrail
from reaper.events import keystone
from reaper.model import IdentityEvent, IdentityRef, Trigger
from reaper.uuids import uuid4s


def drafts(
    trail: AuditTrail,
    results: Sequence[tuple[IdentityEvent | keystone.Rejected, Trigger | None, Any]],
    reopened: set[str],
    *,
    received_at: dt.datetime | None = None,
) -> list[tuple[Sealable, str, str]]:
    """The ``receive`` record of each message, with its (event type, outcome) for metrics.

    ``received_at`` (when the batch arrived, its triggers' time) is every
    record's event time: what a ``receive`` record reports happened then.
    The records are built together (``record.Shared``), so what they have
    in common is converted and scrubbed once per batch, and the first
    describes reaper's initiator and observer in full, the others name them
    by id (``reaper.audit.record``): they are appended together, in order
    and contiguous, in one transaction. The others are mostly copies of a
    few shapes, made from one encoded template each (``reaper.audit.template``).
    """
    batch = _Batch(trail, received_at, len(results))
    found: list[tuple[Sealable, str, str]] = []
    for item, trigger, result in results:
        actor_ids = bool(found)
        if isinstance(item, IdentityEvent):
            assert result is not None and trigger is not None
            what = "duplicate" if result.duplicate else "recorded"
            if result.tombstone.id in reopened:
                what = f"recorded; reopened the {result.tombstone.state.value} tombstone"
            record = batch.receipt(item, trigger, result, what, actor_ids=actor_ids)
            found.append((record, item.event_type, what))
        else:
            draft = rejection(trail, item, event_time=received_at, actor_ids=actor_ids)
            found.append((draft, item.event_type or "?", f"rejected_{item.code}"))
    return found


#: The values a receipt's template leaves open: those no two notifications share.
_HOLES = ("identity", "tombstone", "message", "event")

#: Shapes whose template agreed with the record built from the same values, in this
#: process: each batch makes its own templates (its time is in them), and checks
#: only shapes it has not seen (``Template``'s ``checked``).
_AGREED: set[Any] = set()
_AGREED_MAX = 4096


class _Batch:
    """What the receipts of one batch share: converted values and templates."""

    def __init__(self, trail: AuditTrail, received_at: dt.datetime | None, size: int) -> None:
        self.trail = trail
        self.received_at = received_at
        self.shared = Shared()
        self.templates: dict[Any, Template] = {}
        #: The records' event ids, made together (``reaper.uuids``).
        self.event_ids = iter(uuid4s(size))

    def receipt(
        self,
        item: IdentityEvent,
        trigger: Trigger,
        result: Any,
        what: str,
        *,
        actor_ids: bool,
    ) -> Sealable:
        values = {
            "identity": item.identity_id,
            "tombstone": result.tombstone.id,
            "message": trigger.message_id,
            "event": next(self.event_ids),
        }
        make = functools.partial(self._build, item, trigger, result.duplicate, what, actor_ids)
        if not actor_ids or trigger.message_id is None:
            return make(values)
        try:
            # What the record is made of but for the holes and the batch's time.
            shape = (
                item.kind,
                item.event_type,
                item.format,
                value_key(item.publisher_id),
                result.duplicate,
                what,
                trigger.source,
                value_key(trigger.event_type),
                value_key(trigger.initiator),
            )
            template = self.templates.get(shape)
        except TypeError:  # an initiator that cannot be a key
            return make(values)
        if template is None:
            checked = shape in _AGREED
            template = self.templates[shape] = Template(make, _HOLES, checked=checked)
            record = template.make(values)
            if record is not None and not checked:
                if len(_AGREED) >= _AGREED_MAX:
                    _AGREED.clear()
                _AGREED.add(shape)
            return record or make(values)
        return template.make(values) or make(values)

    def _build(
        self,
        item: IdentityEvent,
        trigger: Trigger,
        duplicate: bool,
        what: str,
        actor_ids: bool,
        values: Mapping[str, str | None],
    ) -> RecordDraft:
        """The receipt of ``item`` (or of any notification of its shape, with ``values``)."""
        message = values["message"]
        return self.trail.draft(
            action=AuditAction.RECEIVE,
            outcome=AuditOutcome.SUCCESS,
            target=AuditTarget.for_identity(IdentityRef(item.kind, str(values["identity"]))),
            reason=f"{item.event_type} ({item.format}) {what}",
            tombstone_id=values["tombstone"],
            trigger=trigger
            if message == trigger.message_id
            else replace(trigger, message_id=message),
            extra={"publisher_id": item.publisher_id, "duplicate": duplicate},
            event_time=self.received_at,
            shared=self.shared,
            actor_ids=actor_ids,
            event_id=values["event"],
        )


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
