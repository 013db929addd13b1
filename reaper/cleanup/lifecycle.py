"""When a finished tombstone must be looked at again.

A tombstone is one per identity, and its final states are ``refused``
(Keystone said the identity exists) and ``complete``. Two later triggers
must not be swallowed by that finality:

* after ``refused``, any new trigger: the first notification may have been
  a forgery or a disable that was undone, and the real deletion comes
  later; refusing once must not mean ignoring forever;
* after ``complete`` for a *disable* (the plan's trigger is
  ``identity.<kind>.disabled``), a deletion: disabling then deleting is the
  normal way to retire a project or a domain, and what the disable left in
  place (the default policy does nothing on disable) must now go.

And a third, from the sweep: after ``complete`` for a *deletion*, when the
sweep's cloud-wide listings still find resources owned by the identity that
the completed plan did not decide to leave (skip or protect). "Complete"
means every handler answered and every step finished; a resource still
there was missed (a handler that failed silently, a resource made after
discovery, a deletion a service accepted but never did), so the cleanup runs
again (:func:`reopen_if_left_behind`). What the plan chose to leave never
reopens it, so a kept volume does not make the tombstone go round each sweep.

A redelivered message (same ``message_id``) never reopens anything, and a
second deletion notice of an identity whose deletion cleanup completed does
not either: a duplicate never means a second cleanup.

The second case has a race: Keystone sends ``domain.updated`` (the disable)
and, moments later, ``domain.deleted``; the deletion often arrives while the
disable's tombstone is still being planned or executed, when there is
nothing final to reopen. So the worker, having completed a disable's plan,
asks :func:`deleted_meanwhile` and, if a deletion notice is on the
tombstone and Keystone confirms the identity gone, reopens it itself. The
listener and the worker each check *after* their own write (the listener
locks the tombstone row while it records a trigger), so whichever is second
sees the other's: the deletion is never swallowed, and the compare-and-set
in ``reopen`` makes it reopen once.

The listener (a stage below the road) is handed a :class:`Reopener` rather
than importing this module.
"""

from __future__ import annotations

from reaper.cleanup.verify import IdentityCheck, VerificationError
from reaper.model import Plan, Tombstone, TombstoneState, Verdict
from reaper.store import Store, TriggerResult
from reaper.store.errors import StateConflict


def should_reopen(state: TombstoneState, plan_trigger: str | None, event_type: str | None) -> bool:
    if state is TombstoneState.REFUSED:
        return True
    if state is TombstoneState.COMPLETE:
        return bool(
            plan_trigger
            and plan_trigger.endswith(".disabled")
            and event_type
            and event_type.endswith(".deleted")
        )
    return False


def may_reopen(result: TriggerResult) -> bool:
    """Whether :func:`reopen_if_needed` has anything to look at (no I/O).

    Only a new trigger on a finished tombstone can reopen it; the listener's
    common case (a new identity, or one still being worked on) skips the
    reopen path and its extra transactions entirely.
    """
    return not result.duplicate and not result.created and result.tombstone.state.final


def reopen_if_needed(store: Store, result: TriggerResult, event_type: str | None) -> bool:
    """Apply :func:`should_reopen` to what recording a trigger found; True if reopened."""
    tombstone = result.tombstone
    if not may_reopen(result):
        return False
    plan_trigger = store.plans.load(tombstone.plan_hash).trigger if tombstone.plan_hash else None
    if not should_reopen(tombstone.state, plan_trigger, event_type):
        return False
    try:
        store.tombstones.reopen(
            tombstone.id,
            f"reopened by {event_type or 'a new trigger'} after {tombstone.state.value}",
        )
    except StateConflict:
        return False  # another listener reopened it first, or it moved on
    return True


def left_behind(plan: Plan, owned: frozenset[str]) -> frozenset[str]:
    """Ids among ``owned`` that ``plan`` did not decide to leave (skip or protect)."""
    left = {d.resource.id for d in plan.decisions if d.verdict is not Verdict.ACT}
    return frozenset(owned - left)


def reopen_if_left_behind(store: Store, result: TriggerResult, owned: frozenset[str]) -> bool:
    """The sweep's reopening of a completed deletion whose owner still owns resources."""
    tombstone = result.tombstone
    if not may_reopen(result) or tombstone.state is not TombstoneState.COMPLETE:
        return False
    if tombstone.plan_hash is None:
        return False
    plan = store.plans.load(tombstone.plan_hash)
    if plan.trigger.endswith(".disabled"):
        return False  # a disable's cleanup leaves things on purpose; a deletion reopens it
    missed = left_behind(plan, owned)
    if not missed:
        return False
    try:
        store.tombstones.reopen(
            tombstone.id,
            f"reopened by the sweep: the identity still owns {len(missed)} resources its "
            f"completed cleanup did not decide to leave (e.g. {', '.join(sorted(missed)[:3])})",
        )
    except StateConflict:
        return False
    return True


def deleted_meanwhile(tombstone: Tombstone, plan_trigger: str | None) -> bool:
    """A disable's cleanup completed, and a deletion notice is among the triggers.

    Only a hint: the caller asks Keystone before reopening, so a forged or
    replayed ``.deleted`` notice of a merely disabled identity does not make
    the tombstone go round for ever.
    """
    if tombstone.state is not TombstoneState.COMPLETE:
        return False
    return any(
        should_reopen(tombstone.state, plan_trigger, t.event_type) for t in tombstone.triggers
    )


def reopen_if_deleted_meanwhile(
    store: Store, keystone: IdentityCheck, tombstone: Tombstone, plan_trigger: str
) -> Tombstone | None:
    """The worker's half of the race above: the reopened tombstone, or ``None``.

    Looks at the triggers recorded since the claim; Keystone must confirm
    the identity gone (if it cannot say, the new pass verifies again, with
    backoff, before touching anything). The compare-and-set makes it reopen
    once, whoever comes second.
    """
    fresh = store.tombstones.get(tombstone.id)
    if not deleted_meanwhile(fresh, plan_trigger):
        return None
    try:
        gone = keystone(tombstone.identity).gone
    except VerificationError:
        gone = True
    if not gone:
        return None
    try:
        return store.tombstones.reopen(
            tombstone.id,
            f"reopened: a deletion notice arrived while the {plan_trigger} cleanup ran",
        )
    except StateConflict:
        return None  # the listener reopened it first


class Reopener:
    """:func:`may_reopen` and :func:`reopen_if_needed` over one store, for the listener."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def may_reopen(self, result: TriggerResult) -> bool:
        return may_reopen(result)

    def reopen_if_needed(self, result: TriggerResult, event_type: str | None) -> bool:
        return reopen_if_needed(self.store, result, event_type)
