"""``reaper release``: an operator ends the wait for one kept resource, on the record.

A waiting tombstone keeps a resource while a live project uses it
(:mod:`reaper.cleanup.waitlist`). The operator can hand it to that project
(its owner changes: the deleted identity no longer owns it) or decide to
keep it for good (tagged ``reaper:keep``); the edges that do it are
:mod:`reaper.actions.handover`, passed in as ``act``. Either way:

* only a resource the tombstone waits for, and only while it waits;
  handing over only to a project that uses it (or, for what is kept
  because its container is, to a live project the operator names);
* the decision is audited with the operator's name, success or refusal:
  never silent;
* the tombstone is then sent round again, so the next plan (following the
  first) sees the new owner or the tag, and the cleanup completes when
  nothing else waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import waiting, waitlist
from reaper.model import Tombstone, TombstoneState
from reaper.store import Store


class ReleaseRefused(Exception):
    """Not released (not waiting, not kept, not a user, or the service refused); audited."""


@dataclass(frozen=True)
class Released:
    tombstone: Tombstone
    kept: waiting.Kept
    #: What was done, in words (``Neutron project_id set to L``, ``tagged reaper:keep``).
    done: str


def release(
    store: Store,
    trail: AuditTrail,
    tombstone_id: str,
    resource_id: str,
    *,
    operator: str,
    to_project: str | None,
    act: Callable[[waiting.Kept], str],
) -> Released:
    """Hand over (``to_project``) or keep for good one kept resource, then wake the tombstone.

    ``act`` performs the change on the cloud and says what it did; it raises
    (a :class:`ReleaseRefused`, or the service's error) when it could not.
    Raises ``reaper.store.NotFound`` for an unknown tombstone.
    """
    tombstone = store.tombstones.get(tombstone_id)
    if tombstone.state is not TombstoneState.WAITING:
        raise ReleaseRefused(
            f"tombstone {tombstone.id} is {tombstone.state.value}, not waiting: "
            "only what a waiting cleanup keeps can be released"
        )
    waiter = waitlist.of(store, tombstone)
    matches = [k for k in (waiter.kept if waiter else ()) if k.ref.id == resource_id]
    if waiter is None or not matches:
        raise ReleaseRefused(
            f"{resource_id} is not among what tombstone {tombstone.id} waits for "
            f"(reaper tombstone show {tombstone.id} --waiting)"
        )
    kept = matches[0]
    decision = f"handed to project {to_project}" if to_project else "kept for good"
    if to_project and kept.projects and to_project not in kept.projects:
        raise ReleaseRefused(
            f"project {to_project} does not use {kept.ref}; its live users are "
            f"{', '.join(kept.projects)}"
        )
    target = AuditTarget(kept.ref.type, kept.ref.id, name=kept.name)
    try:
        done = act(kept)
    except Exception as exc:
        trail.append(
            action=AuditAction.UPDATE,
            outcome=AuditOutcome.FAILURE,
            target=target,
            reason=AuditReason.error(f"release by operator {operator} refused ({decision}): {exc}"),
            tombstone_id=tombstone.id,
            plan_hash=waiter.plan.content_hash,
            extra={"release": "hand_over" if to_project else "forget", "to_project": to_project},
        )
        raise ReleaseRefused(str(exc)) from exc
    trail.append(
        action=AuditAction.UPDATE,
        outcome=AuditOutcome.SUCCESS,
        target=target,
        reason=f"released by operator {operator} from waiting cleanup {tombstone.id}: "
        f"{decision} ({done}); it was {kept.reason}",
        tombstone_id=tombstone.id,
        plan_hash=waiter.plan.content_hash,
        extra={
            "release": "hand_over" if to_project else "forget",
            "to_project": to_project,
            "done": done,
            "used_by": [dict(u) for u in kept.users],
        },
    )
    why = f"operator {operator} released {kept.ref} ({decision})"
    woken = waitlist.wake(store, trail, waiter, why, initiator=f"operator {operator}")
    return Released(woken or store.tombstones.get(tombstone.id), kept, done)
