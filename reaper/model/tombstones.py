"""Tombstones: one identity's cleanup, where it is on the road and what opened it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reaper.model.identity import IdentityRef


class TombstoneState(str, enum.Enum):
    """Where a tombstone is on the road (``reaper.cleanup.worker`` draws the machine).

    ``WAITING``: every step that could run ran, but something was kept because a
    live project uses it (``reaper.cleanup.waiting``); neither complete (something
    is left) nor failed. No worker claims it: the sweep re-checks its kept
    resources and sends it round again once a live project stops using one.

    ``VERIFIED`` is never entered: verification and planning happen in one
    claim, straight from ``RECEIVED``. It stays so that a row an older reaper
    left in it still loads; such a row is claimable and worked on as if it
    had just been received.
    """

    RECEIVED = "received"
    VERIFIED = "verified"
    REFUSED = "refused"
    PLANNED = "planned"
    EXECUTING = "executing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    HELD = "held"
    DEFERRED = "deferred"
    WAITING = "waiting"

    @property
    def final(self) -> bool:
        return self in (TombstoneState.REFUSED, TombstoneState.COMPLETE)


class TriggerSource(str, enum.Enum):
    NOTIFICATION = "notification"
    SWEEP = "sweep"
    CLI = "cli"
    REPLAY = "replay"


@dataclass(frozen=True)
class Trigger:
    """Why a tombstone exists: which notification (or sweep, or operator) opened it."""

    source: TriggerSource
    event_type: str | None = None
    message_id: str | None = None
    initiator: Mapping[str, Any] | None = None
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class Tombstone:
    """The persistent record of one identity's cleanup: one per (kind, id)."""

    id: str
    identity: IdentityRef
    state: TombstoneState
    triggers: tuple[Trigger, ...] = ()
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    plan_hash: str | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    reason: str = ""
    #: The controller holding the tombstone's lease, and since when (``None`` when free).
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None
