"""One tombstone, one step of its state machine at a time, down the road.

::

    received ──verify──> refused                  (Keystone: still there; nothing touched)
        │      └─(Keystone unreachable: retry later, never act)
        └──plan──> held                           (blast radius, or dry-run mode: approve)
                └─> planned ──execute──> complete
                                     ├─> deferred (grace period; resumes when due)
                                     └─> partial  (failures; retried with backoff)

A worker holds the tombstone's lease (``claimed_by``) while it works and
records each transition before moving on, so a controller killed at any
point resumes where it stopped: a tombstone left ``executing`` is executed
again with the outcomes already stored (finished steps never run twice).
``dry_run`` controllers plan and audit, then hold every tombstone for an
operator's ``reaper approve``: nothing changes without a person saying so.

The plan is in hand from the moment it is made or loaded: it is stored once
when made, loaded at most once per claim when resumed, and handed from step
to step (execute, settle, the lifecycle check) without going back to the
store. ``verified`` is a state older reapers could leave a row in; it is
never entered now, and such a row is worked on as if just received.

Its seams are injected: the cloud (:class:`~reaper.cleanup.seams.Cloud`:
Keystone, inventory, runner), the policies, the store and the trail; the
configuration is one :class:`~reaper.cleanup.settings.Settings` value.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from reaper import log, planner
from reaper.audit.record import AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import lifecycle
from reaper.cleanup.execute import execute_plan
from reaper.cleanup.plan import make_plan
from reaper.cleanup.record import audit_planned
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, VerificationError, verify_before_execute
from reaper.credentials import CredentialError
from reaper.executor import Observer, Report
from reaper.keystone_access import KeystoneGate
from reaper.model import (
    IdentityKind,
    OutcomeStatus,
    Plan,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
    trigger_name,
    utcnow,
)
from reaper.policy import PolicySet
from reaper.store import Store, StoreError
from reaper.store.errors import StateConflict

LOG = log.get(__name__)

#: Retry delays grow from a few seconds to an hour.
BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_MAX = dt.timedelta(hours=1)


def backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


class Worker:
    """Moves claimed tombstones along; the controller runs several of these."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        trail: AuditTrail,
        cloud: Callable[[], Cloud],
        policies: Callable[[], PolicySet],
        observers: Callable[[], list[Observer]] = list,
        metrics: Any = None,
        stop: threading.Event | None = None,
        gate: KeystoneGate | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.settings = settings
        self.store = store
        self.trail = trail
        self.cloud = cloud
        self.policies = policies
        self.observers = observers
        self.metrics = metrics
        self.gate = gate
        self.owner = settings.owner

    # -- the loop body -----------------------------------------------------------

    def work_once(self) -> Tombstone | None:
        """Claim the next due tombstone and take it as far as it goes now.

        Nothing is claimed while Keystone cannot be used (``gate``).
        """
        if self.gate is not None and not self.gate.admit():
            return None
        tombstone = self.store.tombstones.claim_next(self.owner)
        if tombstone is None:
            return None
        log.get(__name__).info(
            "tombstone claimed",
            tombstone=tombstone.id,
            identity=str(tombstone.identity),
            state=tombstone.state.value,
        )
        try:
            return self.process(tombstone)
        except StoreError:
            raise  # the controller backs off; the lease expires or is released on restart
        except Exception as exc:
            # A configuration that cannot make a connection stops every tombstone alike.
            if isinstance(exc, CredentialError) and self.gate is not None:
                self.gate.failed(exc)
                return self._wait_for_keystone(tombstone)
            LOG.exception("tombstone failed", tombstone=tombstone.id)
            return self._retry_later(tombstone, f"unexpected error: {type(exc).__name__}: {exc}")

    def process(self, tombstone: Tombstone) -> Tombstone:
        state = tombstone.state
        if state in (TombstoneState.RECEIVED, TombstoneState.VERIFIED):
            # VERIFIED is never entered any more; a row an older reaper left in it
            # has not been planned yet, so it starts over as received.
            return self._plan(tombstone)
        if state in (
            TombstoneState.PLANNED,
            TombstoneState.EXECUTING,
            TombstoneState.PARTIAL,
            TombstoneState.DEFERRED,
        ):
            return self._resume(tombstone)
        # Not claimable states should never get here; give the lease back.
        return self.store.tombstones.release(tombstone.id, self.owner)

    # -- stages ------------------------------------------------------------------

    def _plan(self, tombstone: Tombstone) -> Tombstone:
        cloud = self.cloud()
        identity = tombstone.identity
        try:
            verification = cloud.keystone(identity)
        except VerificationError as exc:
            return self._retry_later(tombstone, str(exc), exc)
        self._keystone_answered()
        trigger = tombstone.triggers[-1] if tombstone.triggers else None
        if not verification.allows(disabled_ok=True):
            self.trail.append(
                action="read",
                outcome=AuditOutcome.FAILURE,
                target=AuditTarget.for_identity(identity, name=verification.name),
                reason=AuditReason.error(
                    f"refused: {verification.refusal()} (a stale, replayed or forged "
                    "notification, or an update that was not a disable)"
                ),
                tombstone_id=tombstone.id,
                trigger=trigger,
            )
            done = self._move(
                tombstone, TombstoneState.REFUSED, reason=verification.refusal(), release=True
            )
            self.trail.end_tombstone(tombstone.id)
            return done
        if identity.kind is IdentityKind.DOMAIN and verification.gone:
            self._cover_domain(tombstone, trigger)
        policies = self.policies()
        planned = make_plan(
            cloud,
            identity,
            policies,
            self.settings,
            disabled_ok=True,
            verification=verification,
        )
        plan = planned.plan
        self.store.plans.save(plan)
        audit_planned(self.trail, planned, tombstone_id=tombstone.id, trigger=trigger)
        if plan.held or self.settings.dry_run:
            why = "; ".join(plan.held) if plan.held else "dry-run mode"
            moved = self._move(
                tombstone,
                TombstoneState.HELD,
                reason=f"{why}: review `reaper plan`, then `reaper approve {tombstone.id}`",
                plan_hash=plan.content_hash,
                release=True,
            )
            self.trail.end_tombstone(tombstone.id)
            return moved
        planned_ts = self._move(tombstone, TombstoneState.PLANNED, plan_hash=plan.content_hash)
        return self._execute(planned_ts, plan, cloud, policies, fresh=True)

    def _cover_domain(self, tombstone: Tombstone, trigger: Trigger | None) -> None:
        """Every project and user reaper has seen in a deleted domain gets a cleanup.

        Keystone announces each of a deleted domain's projects and users
        before the domain itself, so normally they all have tombstones
        already; any that does not (a lost notification) is opened now.
        Their resources are cleaned under their own tombstones, not twice.
        """
        known = self.store.directory.in_domain(tombstone.identity.id)
        missing = [k for k in known if self.store.tombstones.find(k.identity) is None]
        for entry in missing:
            self.store.tombstones.record_trigger(
                entry.identity,
                Trigger(
                    source=TriggerSource.SWEEP,
                    event_type=trigger_name(entry.identity.kind),
                ),
            )
        self.trail.append(
            action="read",
            outcome=AuditOutcome.SUCCESS,
            target=AuditTarget.for_identity(tombstone.identity),
            reason=f"domain coverage: {len(known)} projects and users seen in this domain, "
            f"{len(known) - len(missing)} already had a cleanup, {len(missing)} opened now",
            tombstone_id=tombstone.id,
            trigger=trigger,
            extra={"opened": [str(k.identity) for k in missing]},
        )

    def _resume(self, tombstone: Tombstone) -> Tombstone:
        """A planned, interrupted, failed or deferred tombstone: its plan, loaded once."""
        if tombstone.plan_hash is None:
            return self._move(tombstone, TombstoneState.RECEIVED, reason="no plan yet")
        plan = self.store.plans.load(tombstone.plan_hash)
        cloud = self.cloud()
        # Time has passed (approval, grace period, retry): Keystone is asked again.
        try:
            verify_before_execute(cloud.keystone, plan)
        except VerificationError as exc:
            return self._retry_later(tombstone, str(exc), exc)
        except Refused as refused:
            self._keystone_answered()
            done = self._move(
                tombstone,
                TombstoneState.REFUSED,
                reason=refused.verification.refusal(),
                release=True,
            )
            self.trail.end_tombstone(tombstone.id)
            return done
        self._keystone_answered()
        return self._execute(tombstone, plan, cloud, self.policies(), fresh=False)

    def _execute(
        self, tombstone: Tombstone, plan: Plan, cloud: Cloud, policies: PolicySet, *, fresh: bool
    ) -> Tombstone:
        executing = self._move(tombstone, TombstoneState.EXECUTING)
        report = execute_plan(
            cloud,
            plan,
            policies,
            self.settings,
            store=self.store,
            trail=self.trail,
            dry_run=False,
            tombstone_id=tombstone.id,
            observers=self.observers(),
            recheck_first=not fresh,
            stop=self.stop,
        )
        return self._settle(executing, plan, report)

    def _settle(self, tombstone: Tombstone, plan: Plan, report: Report) -> Tombstone:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items()))
        if report.interrupted:
            # Shutting down: stay EXECUTING, give the lease back, resume on the next claim.
            return self._move(
                tombstone,
                TombstoneState.EXECUTING,
                reason=f"interrupted by shutdown after {counts or 'no step'}",
                release=True,
            )
        statuses = {o.status for o in report.outcomes.values()}
        if statuses & {OutcomeStatus.FAILED, OutcomeStatus.BLOCKED}:
            result = self._move(
                tombstone,
                TombstoneState.PARTIAL,
                reason=counts,
                next_attempt_at=utcnow() + backoff(tombstone.attempts),
                release=True,
            )
        elif OutcomeStatus.DEFERRED in statuses:
            due = min(
                planner.due_at(plan, sid)
                for sid, o in report.outcomes.items()
                if o.status is OutcomeStatus.DEFERRED
            )
            result = self._move(
                tombstone,
                TombstoneState.DEFERRED,
                reason=counts,
                next_attempt_at=due,
                release=True,
            )
        else:
            result = self._move(tombstone, TombstoneState.COMPLETE, reason=counts, release=True)
        self.trail.end_tombstone(tombstone.id)
        if result.state is TombstoneState.COMPLETE:
            return self._reopen_if_deleted_meanwhile(result, plan)
        return result

    def _reopen_if_deleted_meanwhile(self, tombstone: Tombstone, plan: Plan) -> Tombstone:
        """A disable completed while its deletion notice came in: clean up again (lifecycle)."""
        fresh = self.store.tombstones.get(tombstone.id)  # triggers recorded since the claim
        if not lifecycle.deleted_meanwhile(fresh, plan.trigger):
            return tombstone
        try:
            gone = self.cloud().keystone(tombstone.identity).gone
        except VerificationError:
            gone = True  # the new pass verifies again, with backoff, before touching anything
        if not gone:
            return tombstone
        try:
            reopened = self.store.tombstones.reopen(
                tombstone.id,
                f"reopened: a deletion notice arrived while the {plan.trigger} cleanup ran",
            )
        except StateConflict:
            return tombstone  # the listener reopened it first
        LOG.info("tombstone reopened", tombstone=tombstone.id, identity=str(tombstone.identity))
        if self.metrics is not None:
            self.metrics.tombstone_moved(TombstoneState.RECEIVED)
        return reopened

    # -- bookkeeping ----------------------------------------------------------------

    def _move(self, tombstone: Tombstone, to: TombstoneState, **changes: Any) -> Tombstone:
        moved = self.store.tombstones.transition(tombstone.id, to, owner=self.owner, **changes)
        LOG.info(
            "tombstone moved",
            tombstone=tombstone.id,
            identity=str(tombstone.identity),
            to=to.value,
            reason=changes.get("reason", ""),
        )
        if self.metrics is not None:
            self.metrics.tombstone_moved(to)
        return moved

    def _keystone_answered(self) -> None:
        if self.gate is not None:
            self.gate.succeeded()

    def _wait_for_keystone(self, tombstone: Tombstone) -> Tombstone:
        """Keystone cannot be used: the tombstone keeps its state until the gate lets a try in."""
        assert self.gate is not None
        problem = self.gate.problem
        return self._move(
            tombstone,
            tombstone.state,
            reason=f"waiting for Keystone: {problem}",
            next_attempt_at=utcnow() + dt.timedelta(seconds=self.gate.seconds_to_retry()),
            release=True,
        )

    def _retry_later(
        self, tombstone: Tombstone, reason: str, exc: BaseException | None = None
    ) -> Tombstone:
        if exc is not None and self.gate is not None and self.gate.failed(exc) is not None:
            return self._wait_for_keystone(tombstone)
        LOG.warning("tombstone retried later", tombstone=tombstone.id, reason=reason)
        return self._move(
            tombstone,
            tombstone.state,
            reason=reason,
            next_attempt_at=utcnow() + backoff(tombstone.attempts),
            release=True,
        )
