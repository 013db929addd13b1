"""The scheduler of waves: which step runs when.

A step is dispatched when its last dependency gets an outcome
(:class:`Dependencies` keeps count); what happens
to it before anything is sent is :func:`~reaper.executor.rules.before_running`;
then it is either queued with the :class:`~reaper.executor.lookup.LookupBatcher`
or submitted to the step pool, where :class:`~reaper.executor.retry.Attempts`
runs it (a removal of a type with a window, servers when one is set, once its
:class:`~reaper.executor.window.Window` has room). An accepted removal goes to the
:class:`~reaper.executor.confirm.ConfirmationPoller`. The main loop waits on
one condition (the run's lock) for whichever comes first: an outcome, a
lookup batch that is due, a listing that is due (unless its kind is held:
:mod:`~reaper.executor.holds`, from the graph kept here). Each step's final word
(its status, attempts, times, and its record) is made by
:class:`~reaper.executor.outcomes.StepOutcomes`.

Every part gets the executor's runner, limits and clock and the run's lock;
none reaches into another.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Mapping, Sequence

from reaper import log
from reaper.executor.clock import Clock, Interrupted
from reaper.executor.confirm import ConfirmationPoller
from reaper.executor.contract import (
    Checked,
    InUse,
    Limits,
    Observer,
    Precheck,
    Report,
    Runner,
)
from reaper.executor.durations import Durations
from reaper.executor.holds import Holds
from reaper.executor.lookup import Batch, LookupBatcher, in_graph
from reaper.executor.outcomes import StepOutcomes
from reaper.executor.retry import Attempts
from reaper.executor.rules import before_running, known_before, settled_by
from reaper.executor.window import Window
from reaper.model import Outcome, OutcomeStatus, Plan, ResourceRef, Step

LOG = log.get(__name__)


class Dependencies:
    """Which steps each step still waits for, and which become ready as others finish."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.waiting_on: dict[str, set[str]] = {s.id: set(s.depends_on) for s in steps}
        self.dependents: dict[str, list[str]] = collections.defaultdict(list)
        for step in steps:
            for dep in step.depends_on:
                self.dependents[dep].append(step.id)

    def ready(self, sid: str) -> bool:
        """Whether every dependency of ``sid`` has finished."""
        return not self.waiting_on[sid]

    def dependents_of(self, sid: str) -> list[str]:
        """The steps that wait for ``sid``, in plan order."""
        return self.dependents.get(sid, [])

    def done(self, sid: str, nxt: str) -> bool:
        """``nxt`` no longer waits for ``sid``; whether it waits for nothing now.

        One dependent at a time, so that a dependent dispatched (and perhaps
        settled at once) before the next is marked sees the same state as
        it always did: the order of outcomes is the plan's, run after run.
        """
        waiting = self.waiting_on[nxt]
        waiting.discard(sid)
        return not waiting


class Scheduler:
    """The state of one execution: which steps are waiting, running, finished."""

    def __init__(
        self,
        plan: Plan,
        *,
        runner: Runner,
        limits: Limits,
        observer: Observer,
        clock: Clock,
        dry_run: bool,
        previous: dict[str, Outcome],
        only: set[str] | None,
        stop: threading.Event,
        durations: Durations | None = None,
    ) -> None:
        self.plan = plan
        self.runner = runner
        self.observer = observer
        self.clock = clock
        self.dry_run = dry_run
        self.previous = previous
        self.only = only
        self.stop = stop
        self.steps = {s.id: s for s in plan.steps}
        self.order = [s.id for s in plan.steps]
        self.resources = {r.ref: r for r in plan.resources}
        self.outcomes: dict[str, Outcome] = {}
        #: Steps submitted (or queued for a lookup) and not finished yet.
        self.running: set[str] = set()
        self.lock = threading.Condition()
        self.dependencies = graph = Dependencies(plan.steps)
        self.pool = _step_pool(limits)
        self.attempts = Attempts(runner, limits, observer, clock)
        poller = ConfirmationPoller(runner, limits, clock, self.lock, self._complete, durations)
        self.poller = poller
        poller.expect(plan.steps)
        self.window = Window(limits.windows, send=self._submit, waits=poller.waits_turn)
        self.holds = Holds(poller, graph, self.outcomes, self.running, self.window, stop)
        frees = in_graph(graph.dependents_of, graph.waiting_on, self.outcomes)
        self.lookups = LookupBatcher(runner, limits, clock, stop, frees)
        if not dry_run:  # in a dry run nothing is removed that could take another along
            self.lookups.expect(plan.steps, self.resources)
        self.final = StepOutcomes(self.resources, self.attempts, observer, clock, limits, previous)
        self.prechecked: Mapping[ResourceRef, Checked] = {}
        self.started = False

    # -- the main loop -------------------------------------------------------

    def go(self) -> Report:
        try:
            with self.lock:  # outcomes known before running: earlier runs, steps not selected
                for sid, outcome in known_before(self.order, self.previous, self.only).items():
                    self._finish(sid, outcome, notify=False)
            to_check = [self.steps[sid] for sid in self.order if sid not in self.outcomes]
            if to_check:
                self.prechecked = self.runner.precheck(to_check, self.resources)
            with self.lock:
                self.started = True
                for sid in self.order:
                    if sid not in self.outcomes and self.dependencies.ready(sid):
                        self._dispatch(sid)
            self._wait()
        finally:
            self.pool.shutdown(wait=True)
            self.poller.shutdown()
        return Report(self.plan.content_hash, dict(self.outcomes), self.dry_run, len(self.steps))

    def _wait(self) -> None:
        with self.lock:
            while len(self.outcomes) < len(self.steps):
                if self.stop.is_set() and not self.running and not self.poller.busy:
                    return
                due = self.lookups.due()
                if due:
                    self.lock.release()
                    try:
                        self._lookup_round(due)
                    finally:
                        self.lock.acquire()
                    continue
                upcoming = self.poller.start_due(self.holds)
                timeout = min(upcoming, default=self.poller.limits.confirm_interval)
                lookup_in = self.lookups.next_in()
                if lookup_in is not None:
                    timeout = min(timeout, lookup_in)
                self.lock.wait(timeout=max(0.0, timeout))

    # -- dispatching -----------------------------------------------------------

    def _dispatch(self, sid: str) -> None:
        """Called with the lock held, when every dependency has an outcome."""
        step = self.steps[sid]
        settled = before_running(
            step,
            self.outcomes,
            dry_run=self.dry_run,
            created_at=self.plan.created_at,
            now=self.clock.now,
            check=self.prechecked.get(step.resource, Precheck.PRESENT),
        )
        if settled is not None:
            self._finish(sid, settled)
            return
        if self.stop.is_set():
            return  # left without an outcome: a later run picks it up
        if self.lookups.take(step, self.resources.get(step.resource)):  # type: ignore[arg-type]
            # Counted as running, so a stop waits for the lookup to settle it.
            self.running.add(sid)
            self.lock.notify_all()
            return
        self.window.submit(step)

    def _submit(self, sid: str) -> None:
        """Hand ``sid`` to the pool (lock held)."""
        self.final.started(sid)
        self.running.add(sid)
        self.pool.submit(self._run_step, sid)

    def _lookup_round(self, batches: Mapping[str, Batch]) -> None:
        """One listing per type; the removals no longer listed are gone, the others run."""
        for rtype, entries in sorted(batches.items()):
            gone = self.lookups.gone(rtype, entries)
            for rid, (sid, _, _) in sorted(entries.items()):
                if rid in gone:
                    reason = "not listed any more once the steps it waited for were done"
                    self._complete(sid, OutcomeStatus.ALREADY_GONE, reason)
                    continue
                with self.lock:
                    self.running.discard(sid)
                    if not self.stop.is_set():
                        self.window.submit(self.steps[sid])
                    self.lock.notify_all()

    # -- one step --------------------------------------------------------------

    def _run_step(self, sid: str) -> None:
        step = self.steps[sid]
        resource = self.resources.get(step.resource)
        try:
            self.observer.step_started(step, resource)
            attempt = self.attempts.run(step, resource)
        except Interrupted:
            # Stopping while it waited to retry: no outcome, the next claim runs it.
            LOG.info("step left for the next run", step=sid)
            with self.lock:
                self.running.discard(sid)
                self.lock.notify_all()
            return
        except InUse as exc:
            LOG.info("step kept: a live project uses its resource", step=sid, reason=str(exc))
            self._complete(sid, OutcomeStatus.KEPT, str(exc)[:1000], used_by=exc.used_by)
            return
        except Exception as exc:
            self._complete(sid, *self.final.failure(sid, exc))
            return
        settled = settled_by(attempt)
        if settled is not None:
            self._complete(sid, *settled)
            return
        assert resource is not None
        with self.lock:  # accepted: a listing will say when it is done
            self.running.discard(sid)
            self.poller.accepted(step, resource)
            self.holds.changed()
            self.lock.notify_all()

    # -- bookkeeping ---------------------------------------------------------------

    def _complete(
        self,
        sid: str,
        status: OutcomeStatus,
        reason: str,
        used_by: tuple[Mapping[str, str], ...] = (),
    ) -> None:
        outcome = self.final.outcome(sid, status, reason, used_by)
        with self.lock:
            self._finish(sid, outcome)

    def _finish(self, sid: str, outcome: Outcome, *, notify: bool = True) -> None:
        """Record ``outcome`` (lock held) and dispatch dependents that became ready."""
        if sid in self.outcomes:
            return
        step = self.steps[sid]
        self.running.discard(sid)
        self.lookups.forget(step)  # blocked, skipped...: no lookup will wait for it
        if notify:
            outcome = self.final.recorded(step, outcome)
        self.outcomes[sid] = outcome
        self.holds.changed()
        self.poller.settled(step)
        self.window.done(sid, more=not self.stop.is_set())
        for nxt in self.dependencies.dependents_of(sid):
            ready = self.dependencies.done(sid, nxt)
            # Before the prechecks are in, go() dispatches whatever became ready.
            if ready and nxt not in self.outcomes and self.started:
                self._dispatch(nxt)
        self.lock.notify_all()


def _step_pool(limits: Limits) -> concurrent.futures.ThreadPoolExecutor:
    """One thread per request the services' concurrency limits allow at once, at least four."""
    workers = sum(limits.concurrency.values()) + limits.default_concurrency
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=max(4, workers), thread_name_prefix="reaper-step"
    )
