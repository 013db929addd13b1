"""How a tombstone is stored: its rows, and the values made of them.

Shared by the repository's concerns (intake, transitions, claims, queries);
nothing here opens a transaction, every function works in the caller's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from reaper import canonical
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
)
from reaper.store import schema

T = schema.tombstones
TR = schema.tombstone_triggers


class _Unset:
    """Marks "leave this column alone", since ``None`` is a value to store."""


UNSET: Any = _Unset()


def new_row(tombstone_id: str, kind: str, identity_id: str, now: dt.datetime) -> dict[str, Any]:
    """A tombstone row as first recorded: received, unclaimed, no plan yet."""
    return {
        "id": tombstone_id,
        "kind": kind,
        "identity_id": identity_id,
        "state": TombstoneState.RECEIVED.value,
        "reason": "",
        "plan_hash": None,
        "attempts": 0,
        "next_attempt_at": None,
        "claimed_by": None,
        "claimed_at": None,
        "created_at": now,
        "updated_at": now,
    }


def new_tombstone(tombstone_id: str, identity: IdentityRef, now: dt.datetime) -> Tombstone:
    """The tombstone :func:`new_row` stores, as :func:`tombstone_of` would read it back."""
    return Tombstone(
        id=tombstone_id,
        identity=identity,
        state=TombstoneState.RECEIVED,
        created_at=now,
        updated_at=now,
    )


def trigger_of(row: Row[Any]) -> Trigger:
    return Trigger(
        source=TriggerSource(row.source),
        event_type=row.event_type,
        message_id=row.message_id,
        initiator=json.loads(row.initiator) if row.initiator else None,
        received_at=row.received_at,
    )


def tombstone_of(row: Row[Any], triggers: Sequence[Trigger]) -> Tombstone:
    return Tombstone(
        id=row.id,
        identity=IdentityRef(IdentityKind(row.kind), row.identity_id),
        state=TombstoneState(row.state),
        triggers=tuple(triggers),
        created_at=row.created_at,
        updated_at=row.updated_at,
        plan_hash=row.plan_hash,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        reason=row.reason,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
    )


def trigger_row(tombstone_id: str, trigger: Trigger, now: dt.datetime) -> dict[str, Any]:
    """A trigger as stored against its tombstone (``now`` when it carries no time)."""
    return {
        "tombstone_id": tombstone_id,
        "source": trigger.source.value,
        "event_type": trigger.event_type,
        "message_id": trigger.message_id,
        "initiator": (
            canonical.dumps(trigger.initiator).decode("utf-8") if trigger.initiator else None
        ),
        "received_at": trigger.received_at or now,
    }


def load(conn: Connection, where: Any) -> Tombstone | None:
    """The one tombstone matching ``where``, with its triggers in arrival order."""
    row = conn.execute(select(T).where(where)).first()
    if row is None:
        return None
    triggers = conn.execute(select(TR).where(TR.c.tombstone_id == row.id).order_by(TR.c.id))
    return tombstone_of(row, [trigger_of(t) for t in triggers])
