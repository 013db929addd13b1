"""The waiting tombstones: what each keeps for live projects, re-checked and released.

A tombstone is ``waiting`` when its run did everything but what a live
project uses (:mod:`reaper.cleanup.waiting`). Three things send it round
again (back to ``received``, keeping its plan's hash until the next plan is
made, whose audit record then says which plan it follows):

* the sweep (:func:`recheck`): one discovery of the identity's resources
  (the same listings a plan makes, live use included); when a kept
  resource is gone or no live project uses it any more, the tombstone is
  planned afresh, and the policies decide as they would for any resource.
  A discovery that failed for some service proves nothing: the tombstone
  keeps waiting until a sweep sees everything;
* an operator's ``reaper release`` (:func:`wake`, after handing the
  resource to the live project, or tagging it ``reaper:keep``: the explicit
  decision to stop waiting for it);
* nothing else: a waiting tombstone is never claimed by a worker, so a
  resource a live project uses is not retried into a 409 storm.

Each wake is audited (what was freed, and the plan it follows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reaper import log
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import discover, waiting
from reaper.cleanup.seams import Cloud
from reaper.inventory.discover import failures
from reaper.model import Plan, Tombstone, TombstoneState
from reaper.store import StateConflict, Store

LOG = log.get(__name__)

#: How many waiting tombstones one sweep looks at, at most (oldest update first).
LIMIT = 10_000


@dataclass(frozen=True)
class Waiter:
    """A waiting tombstone, its plan and what it keeps."""

    tombstone: Tombstone
    plan: Plan
    kept: tuple[waiting.Kept, ...]


def of(store: Store, tombstone: Tombstone) -> Waiter | None:
    """What ``tombstone`` waits for (``None`` when it has no plan to wait on)."""
    if tombstone.plan_hash is None:
        return None
    plan = store.plans.load(tombstone.plan_hash)
    return Waiter(tombstone, plan, waiting.kept(plan, store.plans.outcomes(plan.content_hash)))


def waiters(store: Store, limit: int = LIMIT) -> Iterator[Waiter]:
    """Every waiting tombstone with a plan, oldest update first."""
    found = store.tombstones.list(states=[TombstoneState.WAITING], limit=limit)
    for tombstone in sorted(found, key=lambda t: (t.updated_at is None, t.updated_at, t.id)):
        waiter = of(store, tombstone)
        if waiter is not None:
            yield waiter


def wake(
    store: Store, trail: AuditTrail, waiter: Waiter, why: str, *, initiator: str = "the sweep"
) -> Tombstone | None:
    """Send a waiting tombstone round again (``received``); audited. ``None`` if it moved on.

    The plan hash stays on the tombstone until the next plan is made: the
    worker records the new plan as following it.
    """
    tombstone = waiter.tombstone
    try:
        woken = store.tombstones.transition(
            tombstone.id,
            TombstoneState.RECEIVED,
            expected=[TombstoneState.WAITING],
            reason=f"sent round again by {initiator}: {why}"[:1000],
            next_attempt_at=None,
        )
    except StateConflict:
        return None  # an operator or another sweep moved it first
    trail.append(
        action=AuditAction.UPDATE,
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget.for_identity(tombstone.identity),
        reason=f"waiting cleanup sent round again by {initiator}: {why}",
        tombstone_id=tombstone.id,
        plan_hash=waiter.plan.content_hash,
        extra={"follows": waiter.plan.content_hash},
    )
    LOG.info(
        "waiting tombstone sent round again",
        tombstone=tombstone.id,
        identity=str(tombstone.identity),
        by=initiator,
        why=why,
    )
    return woken


def recheck(store: Store, trail: AuditTrail, cloud: Cloud, waiter: Waiter) -> Tombstone | None:
    """The sweep's look at one waiting tombstone: woken when a kept resource is freed."""
    tombstone = waiter.tombstone
    if not waiter.kept:
        return wake(store, trail, waiter, "nothing of its plan is kept for live use any more")
    inventory = cloud.inventory(discover.operator_scope(store, tombstone.identity))
    missed = failures(inventory.incomplete)
    if missed:
        LOG.warning(
            "waiting tombstone not re-checked: discovery incomplete",
            tombstone=tombstone.id,
            missed="; ".join(missed),
        )
        return None
    fresh = {r.ref: r for r in inventory.resources}
    used = {k.ref for k in waiting.still_used(waiter.kept, fresh)}
    freed = [k for k in waiter.kept if k.ref not in used]
    if not freed:
        LOG.info(
            "waiting tombstone still waits",
            tombstone=tombstone.id,
            identity=str(tombstone.identity),
            kept=len(waiter.kept),
        )
        return None
    said = ", ".join(
        f"{k.ref} ({'gone' if k.ref not in fresh else 'no live project uses it'})"
        for k in freed[:5]
    )
    return wake(store, trail, waiter, f"{len(freed)} kept resources freed: {said}")


def recheck_all(store: Store, trail: AuditTrail, cloud: Cloud) -> int:
    """Re-check every waiting tombstone; how many were sent round again.

    One that cannot be re-checked now (a service failed, the store is busy)
    is logged and looked at again by the next sweep.
    """
    woken = 0
    for waiter in waiters(store):
        try:
            woken += recheck(store, trail, cloud, waiter) is not None
        except Exception:
            LOG.exception("waiting tombstone not re-checked", tombstone=waiter.tombstone.id)
    return woken


class Census:
    """Resources kept for live use over every waiting tombstone, by type (for metrics).

    Read at scrape time: one listing of the waiting tombstones; a plan is
    loaded once (plans never change, and a waiting tombstone's outcomes do not).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_plan: dict[str, dict[str, int]] = {}

    def __call__(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        found = self.store.tombstones.list(states=[TombstoneState.WAITING], limit=LIMIT)
        hashes = {t.plan_hash for t in found if t.plan_hash}
        for plan_hash in sorted(hashes):
            if plan_hash not in self._by_plan:
                plan = self.store.plans.load(plan_hash)
                types: dict[str, int] = {}
                for kept in waiting.kept(plan, self.store.plans.outcomes(plan_hash)):
                    types[kept.ref.type] = types.get(kept.ref.type, 0) + 1
                self._by_plan[plan_hash] = types
            for rtype, n in self._by_plan[plan_hash].items():
                counts[rtype] = counts.get(rtype, 0) + n
        for gone in set(self._by_plan) - hashes:
            del self._by_plan[gone]
        return counts
