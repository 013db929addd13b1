"""One tombstone, one step of its state machine at a time, down the road.

::

    received ──verify──> refused                  (Keystone: still there, or an id reaper
        │                                          never saw alive; nothing touched)
        │      └─(Keystone unreachable: retry later, never act)
        └──plan──> held                           (blast radius, or dry-run mode: approve)
                └─> planned ──execute──> complete
                                     ├─> deferred (grace period; resumes when due)
                                     ├─> partial  (failures, or an incomplete plan;
                                     │             retried with backoff, an incomplete
                                     │             plan by planning afresh)
                                     └─> waiting  (all else done; what a live project
                                                   uses is kept: the sweep re-checks it
                                                   and sends it back to received, the
                                                   next plan following this one)

A worker holds the tombstone's lease (``claimed_by``) while it works, renewed
by a heartbeat (:mod:`~reaper.cleanup.lease`); every transition it records
is fenced by its claim's token, so a worker whose lease was taken over
stops (no further step, no further state change). It records each
transition before moving on, so a controller killed at any point resumes
where it stopped: a tombstone left ``executing`` is executed again with
the outcomes already stored (finished steps never run twice).
``dry_run`` controllers plan and audit, then hold every tombstone for an
operator's ``reaper approve``: nothing changes without a person saying so.

The plan is in hand from the moment it is made or loaded: it is stored once
when made, loaded at most once per claim when resumed, and handed from step
to step (execute, settle, the lifecycle check) without going back to the
store. ``verified`` is a state older reapers could leave a row in; it is
never entered now, and such a row is worked on as if just received.

:class:`Worker` is over 200 lines because it is the state machine:
every edge above is one of its methods, and splitting them would scatter the
one place where a tombstone's states can be read in order; what is not an
edge (settling a run, domain coverage, reopening, retry times) lives in
``settle``, ``coverage`` and ``lifecycle``.

Its seams are injected: the cloud (:class:`~reaper.cleanup.seams.Cloud`:
Keystone, inventory, runner), the policies, the store and the trail; the
configuration is one :class:`~reaper.cleanup.settings.Settings` value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from reaper import log
from reaper.audit.trail import AuditTrail
from reaper.cleanup import coverage, known, lifecycle, reclaim, settle, waiting
from reaper.cleanup.early import Early
from reaper.cleanup.execute import execute_plan
from reaper.cleanup.lease import Heartbeat
from reaper.cleanup.plan import deleted_by, make_plan
from reaper.cleanup.record import audit_planned, audit_refused
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, Verification, VerificationError, verify_before_execute
from reaper.credentials import CredentialError
from reaper.executor import Observer, Report
from reaper.keystone_access import KeystoneGate
from reaper.model import (
    IdentityKind,
    Plan,
    Tombstone,
    TombstoneState,
    utcnow,
)
from reaper.policy import PolicySet
from reaper.reclaim import Usage
from reaper.store import Claim, StateConflict, Store, StoreError

LOG = log.get(__name__)


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
        #: The claim and halt event of the tombstone each worker thread is on.
        self._run = threading.local()

    # -- the loop body -----------------------------------------------------------

    def work_once(self) -> Tombstone | None:
        """Claim the next due tombstone and take it as far as it goes now.

        Nothing is claimed while Keystone cannot be used (``gate``).
        """
        if self.gate is not None and not self.gate.admit():
            return None
        tombstone = self.store.tombstones.claim_next(self.owner, lease=self.settings.lease)
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
        except StateConflict as exc:
            # Fenced: the lease went to another claim (or an operator moved the row).
            LOG.error("tombstone left: no longer ours", tombstone=tombstone.id, error=str(exc))
            return None
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
        """Work on ``tombstone`` while a heartbeat keeps its lease (if it is claimed)."""
        claim = Claim.of(tombstone) if tombstone.claimed_by else None
        heartbeat = Heartbeat(
            self.store.tombstones.renew, claim, self.settings.lease, stop=self.stop
        )
        with heartbeat as halt:
            self._run.claim, self._run.halt = claim, halt
            try:
                return self._process(tombstone)
            finally:
                self._run.claim = self._run.halt = None

    def _process(self, tombstone: Tombstone) -> Tombstone:
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
        # A tombstone sent round again from ``waiting`` keeps its previous plan until
        # this one is made: the new plan's record says which plan it follows.
        follows = tombstone.plan_hash if tombstone.state is TombstoneState.RECEIVED else None
        known.remember(self.store, verification)
        never = known.never_known(self.store, tombstone) if verification.gone else None
        if never or not verification.allows(disabled_ok=True):
            audit_refused(
                self.trail, verification, tombstone_id=tombstone.id, trigger=trigger, why=never
            )
            done = self._move(
                tombstone,
                TombstoneState.REFUSED,
                reason=never or verification.refusal(),
                release=True,
            )
            self.trail.end_tombstone(tombstone.id)
            return done
        verification = known.with_domain(self.store, verification)
        if identity.kind is IdentityKind.DOMAIN and verification.gone:
            coverage.cover_domain(self.store, self.trail, tombstone, trigger)
        policies = self.policies()
        # The usage before cleanup is read beside discovery, not after the plan (early.py).
        first_reading = not self.settings.dry_run and self.store.reclaim.get(tombstone.id) is None
        prefetch = Early(cloud, identity, verification.gone) if first_reading else None
        try:
            return self._planned(tombstone, verification, cloud, policies, prefetch, follows)
        finally:
            if prefetch is not None:
                prefetch.close()

    def _planned(
        self,
        tombstone: Tombstone,
        verification: Verification,
        cloud: Cloud,
        policies: PolicySet,
        prefetch: Early | None,
        follows: str | None,
    ) -> Tombstone:
        identity = tombstone.identity
        trigger = tombstone.triggers[-1] if tombstone.triggers else None
        planned = make_plan(
            cloud,
            identity,
            policies,
            self.settings,
            disabled_ok=True,
            verification=verification,
            gone_by=deleted_by(tombstone),
        )
        plan = planned.plan
        self.store.plans.save(plan)
        audit_planned(
            self.trail, planned, tombstone_id=tombstone.id, trigger=trigger, follows=follows
        )
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
        usage = prefetch.usage if prefetch is not None else None
        return self._execute(planned_ts, plan, cloud, policies, fresh=True, usage=usage)

    def _resume(self, tombstone: Tombstone) -> Tombstone:
        """A planned, interrupted, failed or deferred tombstone: its plan, loaded once."""
        if tombstone.plan_hash is None:
            return self._move(tombstone, TombstoneState.RECEIVED, reason="no plan yet")
        plan = self.store.plans.load(tombstone.plan_hash)
        if tombstone.state is TombstoneState.PARTIAL and settle.missed(plan):
            # A handler failed when this plan was made: what it would have listed can only
            # be found by discovering again, so the retry plans afresh (verifying first).
            return self._plan(tombstone)
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
        bound = self.settings.resume_recheck_after
        fresh = settle.reuses_discovery(tombstone.state, plan, utcnow(), bound)
        if fresh:
            LOG.info("resumed on the plan's own discovery", tombstone=tombstone.id)
        return self._execute(tombstone, plan, cloud, self.policies(), fresh=fresh)

    def _execute(
        self,
        tombstone: Tombstone,
        plan: Plan,
        cloud: Cloud,
        policies: PolicySet,
        *,
        fresh: bool,
        usage: Future[Usage] | None = None,
    ) -> Tombstone:
        executing = self._move(tombstone, TombstoneState.EXECUTING)
        reclaim.before(cloud, self.store, executing, reading=usage.result if usage else None)
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
            stop=self._halt(),
            # Every plan this worker runs was made with audit_planned (here or by a
            # worker before it), and an open tombstone's records are never archived.
            decisions_recorded=True,
        )
        return self._settle(executing, plan, report, cloud)

    def _settle(self, tombstone: Tombstone, plan: Plan, report: Report, cloud: Cloud) -> Tombstone:
        if not report.interrupted:
            # Measured before the move, so that a settled tombstone has its figures.
            reclaim.after(cloud, self.store, self.trail, tombstone, metrics=self.metrics)
        to, changes = settle.after_run(report, plan, attempts=tombstone.attempts, now=utcnow())
        result = self._move(tombstone, to, **changes)
        if to is TombstoneState.WAITING:
            waits = waiting.kept(plan, report.outcomes)
            LOG.warning(
                "tombstone waiting: kept while live projects use it",
                tombstone=tombstone.id,
                identity=str(tombstone.identity),
                kept=[str(k.ref) for k in waits],
                projects=sorted({p for k in waits for p in k.projects}),
            )
        if to is TombstoneState.HELD:
            LOG.error(
                "tombstone blocked: a step spent its retry budget",
                tombstone=tombstone.id,
                identity=str(tombstone.identity),
                reason=changes.get("reason", ""),
            )
        if report.interrupted:
            return result  # resumes on the next claim: the tombstone's work is not over
        self.trail.end_tombstone(tombstone.id)
        if result.state is TombstoneState.COMPLETE:
            return self._reopen_if_deleted_meanwhile(result, plan)
        return result

    def _reopen_if_deleted_meanwhile(self, tombstone: Tombstone, plan: Plan) -> Tombstone:
        """A disable completed while its deletion notice came in: clean up again (lifecycle)."""
        reopened = lifecycle.reopen_if_deleted_meanwhile(
            self.store, self.cloud().keystone, tombstone, plan.trigger
        )
        if reopened is None:
            return tombstone
        LOG.info("tombstone reopened", tombstone=tombstone.id, identity=str(tombstone.identity))
        if self.metrics is not None:
            self.metrics.tombstone_moved(TombstoneState.RECEIVED)
        return reopened

    # -- bookkeeping ----------------------------------------------------------------

    def _move(self, tombstone: Tombstone, to: TombstoneState, **changes: Any) -> Tombstone:
        moved = self.store.tombstones.transition(
            tombstone.id, to, owner=self.owner, claim=getattr(self._run, "claim", None), **changes
        )
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

    def _halt(self) -> threading.Event:
        """The event that ends this thread's run: shutdown, or the lease lost."""
        return getattr(self._run, "halt", None) or self.stop

    def _keystone_answered(self) -> None:
        if self.gate is not None:
            self.gate.succeeded()

    def _wait_for_keystone(self, tombstone: Tombstone) -> Tombstone:
        """Keystone cannot be used: the tombstone keeps its state until the gate lets a try in."""
        assert self.gate is not None
        wait = settle.waiting_for_keystone(
            self.gate.problem, self.gate.seconds_to_retry(), utcnow()
        )
        return self._move(tombstone, tombstone.state, **wait)

    def _retry_later(
        self, tombstone: Tombstone, reason: str, exc: BaseException | None = None
    ) -> Tombstone:
        if exc is not None and self.gate is not None and self.gate.failed(exc) is not None:
            return self._wait_for_keystone(tombstone)
        LOG.warning("tombstone retried later", tombstone=tombstone.id, reason=reason)
        later = settle.retry_later(reason, attempts=tombstone.attempts, now=utcnow())
        return self._move(tombstone, tombstone.state, **later)
