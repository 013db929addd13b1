"""Audit records: CADF events with reaper's own fields, built without I/O.

A record is a CADF event (DMTF DSP0262, as built by pycadf, the model
Keystone's own CADF notifications use) so SIEMs that already read OpenStack
audit data read reaper's too:

* ``initiator`` is reaper's service identity (who acted),
* ``target`` the resource or identity acted on,
* ``observer`` the reaper instance that wrote the record (``[DEFAULT] host``),
* ``action`` / ``outcome`` / ``reason`` what happened and why (the policy and
  rule that matched, or the error).

Everything CADF has no slot for lives under one extra top-level key,
``reaper``: the chain position (``seq``), tombstone, plan, trigger (Keystone
``message_id``, event type, initiator) and the resource's before-image, the
attributes it had when reaper decided. ``seq`` is assigned only when the
record is appended under the chain lock, so a :class:`RecordDraft` is
everything but its position.

This module assembles and validates a record (:func:`build`) and names what
happened (:class:`AuditAction`, :class:`AuditOutcome`); who and what it is
about are in :mod:`reaper.audit.cadf`, and secrets are masked by
:mod:`reaper.audit.scrub`. Both are re-exported here, where callers import
them from.

Records written since ``reaper-audit/2`` (``reaper.schema``) say the same
with fewer bytes, because a store keeps three of them per cleaned resource
(issue 18 asks for <= 6 KiB each, everything included):

* a record may name its initiator and observer by id only (CADF's own
  ``initiatorId`` / ``observerId``) when an earlier record of the same run
  (the same batch of a plan's decisions, the same executor run) describes
  them in full (``actor_ids``);
* a before-image leaves out the attributes whose value is null (unset), at
  its top level and in a resource's ``attributes``: an attribute missing
  from a v2 image was null; the plan (whose hash every record names)
  keeps them all;
* ``plan`` holds only what is known (no ``"id": null``).

Older records keep their bytes (the chain hashes them) and mean what they
meant; readers look fields up by name, so both versions read alike.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pycadf import cadftype
from pycadf import event as cadf_event

from reaper import canonical, sealing
from reaper.audit.cadf import (
    Actor,
    AuditReason,
    AuditTarget,
    type_uri,
    valid_action,
    valid_outcome,
)
from reaper.audit.columns import RecordIndex, cadf_time
from reaper.audit.scrub import scrub
from reaper.model import OutcomeStatus, Resource, Trigger, utcnow

__all__ = [
    "SCHEMA",
    "Actor",
    "AuditAction",
    "AuditOutcome",
    "AuditReason",
    "AuditTarget",
    "RecordDraft",
    "Shared",
    "build",
    "image_sha256",
    "scrub",
    "type_uri",
    "value_key",
]

#: Version of the ``reaper`` section; bump when its meaning changes (see the module).
SCHEMA = "reaper-audit/2"


class AuditAction(str, enum.Enum):
    """CADF actions reaper uses (any CADF action string is accepted too)."""

    #: A Keystone notification arrived (or was rejected as malformed).
    RECEIVE = "receive"
    #: Reaper asked a service about a resource or identity (verify, discovery).
    READ = "read"
    LIST = "read/list"
    #: A policy decision, a plan, or a dry-run of a step.
    EVALUATE = "evaluate"
    DELETE = "delete"
    DETACH = "update/detach"
    DISABLE = "disable"
    UPDATE = "update"
    NOTIFY = "notify"


class AuditOutcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"
    UNKNOWN = "unknown"

    @classmethod
    def from_status(cls, status: OutcomeStatus) -> AuditOutcome:
        """The CADF outcome of a step's final status."""
        if status in (OutcomeStatus.FAILED, OutcomeStatus.BLOCKED):
            return cls.FAILURE
        if status in (OutcomeStatus.DEFERRED, OutcomeStatus.HELD, OutcomeStatus.KEPT):
            return cls.PENDING
        return cls.SUCCESS


@dataclass(frozen=True)
class RecordDraft:
    """A complete record but for its chain position, ready to be appended."""

    #: The CADF event, as JSON-able data.
    cadf: Mapping[str, Any]
    #: Reaper's fields, without ``seq``.
    reaper: Mapping[str, Any]
    index: RecordIndex = field(compare=False)

    def body(self, seq: int) -> str:
        """The canonical JSON text of this record at position ``seq``.

        ``cadf`` and ``reaper`` already went through ``canonical.jsonable``
        when the draft was built, so this is ``canonical.dumps`` without its
        second walk over the data, which cost more than the rest of a batched
        append (a unit test holds the two to the same bytes).
        """
        record = dict(self.cadf)
        record["reaper"] = {**self.reaper, "seq": seq}
        return _CANONICAL.encode(record)


#: ``canonical.dumps``'s encoder, for data that is already JSON-plain.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


class Shared:
    """What the records built together (a batch of ``receive`` records) work out once.

    A batch's records share their event time, their triggers' arrival time,
    and mostly their ``extra`` and initiators (one publisher, a few users);
    converting and scrubbing those again for every record was a third of
    building one. Only pure functions of their key are kept, keyed by value
    *and* type (``False`` and ``0`` are equal but encode differently), so a
    record built with a :class:`Shared` is byte for byte the record built
    without. Values that cannot be keys (nested lists and mappings) are
    simply worked out again. One lives as long as its batch: it holds what
    it scrubbed, secrets included, no longer than the records do.
    """

    def __init__(self) -> None:
        self._memo: dict[Any, Any] = {}

    def get(self, kind: str, value: Any, make: Callable[[], Any]) -> Any:
        """``make()``, worked out once per distinct ``value`` (by value and type)."""
        key = (kind, value_key(value))
        try:
            found = self._memo.get(key, _MISSING)
        except TypeError:  # not hashable
            return make()
        if found is _MISSING:
            found = self._memo[key] = make()
        return found


_MISSING = object()


def value_key(value: Any) -> Any:
    """A key that tells apart values that compare equal but encode differently.

    Hashing it raises ``TypeError`` for values that cannot be keys.
    """
    kind = type(value)
    if kind in _PLAIN:  # most values: no ABC check (a receipt's shape takes three)
        return (kind, value)
    if isinstance(value, Mapping):
        return tuple((k, type(v), value_key(v)) for k, v in value.items())
    return (kind, value)


#: Types that are never mappings, so :func:`value_key` skips the ``Mapping`` check.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _once(shared: Shared | None, kind: str, value: Any, make: Callable[[], Any]) -> Any:
    return make() if shared is None else shared.get(kind, value, make)


def _trigger(trigger: Trigger | None, shared: Shared | None = None) -> dict[str, Any] | None:
    if trigger is None:
        return None
    initiator = trigger.initiator
    return {
        "source": trigger.source.value,
        "event_type": trigger.event_type,
        "message_id": trigger.message_id,
        "initiator": _once(shared, "initiator", initiator, lambda: _scrubbed(initiator))
        if initiator
        else None,
        "received_at": _once(
            shared, "instant", trigger.received_at, lambda: canonical.jsonable(trigger.received_at)
        ),
    }


def _scrubbed(value: Any) -> Any:
    return scrub(canonical.jsonable(value))


def _before(before: Resource | Mapping[str, Any] | None) -> Any:
    """The before-image: secrets sealed by type (``reaper.sealing``), then masked by name.

    Null attributes are left out (at the top level and in ``attributes``): an
    SDK resource lists every field it knows, unset ones as null, and those
    were a sixth of a server's image.
    """
    if before is None:
        return None
    if isinstance(before, Resource):
        before = sealing.seal_resource(before)
    image = scrub(canonical.jsonable(before))
    if not isinstance(image, dict):
        return image
    image = _set_only(image)
    if isinstance(image.get("attributes"), dict):
        image["attributes"] = _set_only(image["attributes"])
    return image


def _set_only(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _image_hash(image: Any) -> str:
    return canonical.sha256_hex(_CANONICAL.encode(image).encode("utf-8"))


def image_sha256(before: Resource | Mapping[str, Any]) -> str:
    """The ``before_sha256`` of a record whose before-image is ``before``.

    SHA-256 of the image's canonical JSON, as the record carries it (sealed
    and scrubbed): a record that names only this hash refers to the image
    stored in full in an earlier record of the chain with the same hash.
    """
    return _image_hash(_before(before))


def build(
    *,
    action: AuditAction | str,
    outcome: AuditOutcome | str,
    target: AuditTarget,
    initiator: Actor,
    observer: Actor,
    reason: AuditReason | str | None = None,
    tombstone_id: str | None = None,
    plan_id: str | None = None,
    plan_hash: str | None = None,
    step_id: str | None = None,
    trigger: Trigger | None = None,
    before: Resource | Mapping[str, Any] | None = None,
    before_sha256: str | None = None,
    extra: Mapping[str, Any] | None = None,
    event_time: dt.datetime | None = None,
    event_id: str | None = None,
    actor_ids: bool = False,
    shared: Shared | None = None,
) -> RecordDraft:
    """Validate and assemble one record; raises ``ValueError`` on a non-CADF value.

    Validation happens here, in the caller's thread and outside any lock or
    transaction, so a bad record never holds the chain.

    ``actor_ids``: name the initiator and observer by id only; only for a
    record after one of the same run that describes them in full (the module
    says why).

    A before-image is stored once: the record that carries it (``before``)
    also names its hash (``before_sha256``); later records about the same
    resource in the same state (a step's start and outcome, after the plan's
    decision) pass only ``before_sha256`` (:func:`image_sha256`), and the
    chain covers that reference as it covers the image.

    ``shared``: records built together compute what they have in common
    once (:class:`Shared`); the record is the same with or without it.
    """
    action = action.value if isinstance(action, AuditAction) else action
    outcome = outcome.value if isinstance(outcome, AuditOutcome) else outcome
    if isinstance(reason, str):
        reason = AuditReason(text=reason)
    if event_time is None:
        when = cadf_time(utcnow())
    else:
        at = event_time
        when = _once(shared, "time", at, lambda: cadf_time(at))
    if not isinstance(action, str) or not valid_action(action):
        raise ValueError(f"not a valid CADF event: action={action!r}")
    if not isinstance(outcome, str) or not valid_outcome(outcome):
        raise ValueError(f"not a valid CADF event: outcome={outcome!r}")
    event_id = event_id or str(uuid.uuid4())
    if not isinstance(event_id, str):
        raise ValueError(f"not a valid CADF event: id={event_id!r}")
    # What pycadf's Event would hold (reaper.audit.cadf says why it is not built).
    cadf: dict[str, Any] = {
        "typeURI": cadf_event.TYPE_URI_EVENT,
        "eventType": cadftype.EVENTTYPE_ACTIVITY,
        "id": event_id,
        "eventTime": when,
        "action": action,
        "outcome": outcome,
        "target": target.cadf_dict(),
    }
    if actor_ids:
        cadf["initiatorId"] = initiator.id
        cadf["observerId"] = observer.id
    else:
        cadf["initiator"] = initiator.cadf_dict
        cadf["observer"] = observer.cadf_dict
    if reason is not None:
        cadf["reason"] = reason.cadf_dict()
    image = _before(before)
    ours: dict[str, Any] = {
        "schema": SCHEMA,
        "target_type": target.type,
        "tombstone_id": tombstone_id,
        "plan": {k: v for k, v in (("id", plan_id), ("hash", plan_hash)) if v} or None,
        "step_id": step_id,
        "trigger": _trigger(trigger, shared),
        "before": image,
        "before_sha256": _image_hash(image) if image is not None else before_sha256,
        "extra": _once(shared, "extra", extra, lambda: _scrubbed(extra)) if extra else None,
    }
    # Every part is JSON-plain already (strings from pycadf's validated
    # resources, before-image and extra through canonical.jsonable), so
    # sealing under the chain lock only encodes; a walk over the whole record
    # here would cost as much as everything else in build.
    ours = {k: v for k, v in ours.items() if v is not None}
    index = RecordIndex(
        recorded_at=when,
        action=action,
        outcome=outcome,
        target_type=target.type,
        target_id=target.id,
        tombstone_id=tombstone_id,
        plan_hash=plan_hash,
    )
    return RecordDraft(cadf=cadf, reaper=ours, index=index)
