"""A deleted domain's coverage: every member reaper has seen gets a cleanup of its own.

Keystone announces each of a deleted domain's projects and users before the
domain itself, so normally they all have tombstones already; any that does
not (a lost notification) is opened now, with a ``sweep`` trigger. Their
resources are cleaned under their own tombstones, not twice. What was found
and opened is recorded against the domain's tombstone.
"""

from __future__ import annotations

from reaper.audit.record import AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.model import Tombstone, Trigger, TriggerSource, trigger_name
from reaper.store import Store


def cover_domain(
    store: Store, trail: AuditTrail, tombstone: Tombstone, trigger: Trigger | None
) -> None:
    known = store.directory.in_domain(tombstone.identity.id)
    missing = [k for k in known if store.tombstones.find(k.identity) is None]
    for entry in missing:
        store.tombstones.record_trigger(
            entry.identity,
            Trigger(source=TriggerSource.SWEEP, event_type=trigger_name(entry.identity.kind)),
        )
    trail.append(
        action="read",
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget.for_identity(tombstone.identity),
        reason=f"domain coverage: {len(known)} projects and users seen in this domain, "
        f"{len(known) - len(missing)} already had a cleanup, {len(missing)} opened now",
        tombstone_id=tombstone.id,
        trigger=trigger,
        extra={"opened": [str(k.identity) for k in missing]},
    )
