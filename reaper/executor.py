"""Running a plan: dependency order, bounded concurrency, retries, confirmation.

The executor is pure scheduling. Everything it does to the cloud goes
through a :class:`Runner` (``actions/runner.py`` is the openstacksdk one),
and everything it wants recorded goes to an :class:`Observer` (the audit
trail, the progress display). That keeps the hard part - what runs when,
and what each step's final word is - testable without a cloud.

Rules:

* A step starts when all its dependencies succeeded (``done`` or
  ``already_gone``). A dependency that failed, was blocked, skipped or held
  makes it ``blocked`` with the blocking step named. Deferred dependencies
  (grace periods) defer it. Independent branches never wait on each other.
* Requests are bounded per service (``[executor] *_concurrency``); a step
  holds its service's slot only while a request is in flight, not while it
  sleeps between retries or waits for confirmation.
* Transient failures (5xx, 409, 429 honouring ``Retry-After``, connection
  errors, and what the runner marks transient) are retried with tenacity:
  exponential backoff with jitter, bounded in attempts and wait. 404 on a
  removal means ``already_gone``.
* A removal that another step usually takes along (Nova deletes the ports
  it made for a server with the server) is looked up before it is sent:
  ready ones are collected until no other step of the kind is still
  waiting for its dependencies (or the oldest has waited ``lookup_wait``),
  then one listing per type covers all of them: those no longer listed are
  ``already_gone`` without a request, the others run. A failed lookup
  proves nothing: the steps run.
* Asynchronous removals (servers, volumes, snapshots...) are ``done`` only
  when a listing no longer shows them. Listings are batched: one per
  resource type at a time, whatever the number of resources waiting, and
  types are listed side by side. A type's next listing starts
  ``confirm_interval`` after its previous one *ended* (or after its first
  deletion was accepted), never sooner, however many steps finish in
  between; while its listings confirm nothing, the gap grows by half each
  time, up to ``confirm_max_interval``, and it shrinks back a step with
  each listing that confirms something. A slow service (Nova removes a
  couple of servers a second on a small host) is then not asked again and
  again while it works, which costs it time too. While more deletions of a
  kind are still to be sent (volumes released wave by wave as their servers
  go), its listing waits for them, up to ``confirm_max_interval`` after the
  oldest waiting one: one listing then covers several waves. A resource
  still listed after ``confirm_timeout`` fails.
* Dry-run is decided here, not in each action: the runner is given a
  read-only client, each action runs up to its first mutating request,
  which is refused and reported as what would have happened. Dependents
  proceed as if it had.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import enum
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import tenacity

from reaper import log
from reaper.model import Outcome, OutcomeStatus, Plan, Resource, ResourceRef, Step, utcnow

LOG = log.get(__name__)


class Result(str, enum.Enum):
    """What one attempt of an action achieved."""

    DONE = "done"
    #: Accepted; the resource disappears asynchronously (confirm by listing).
    ACCEPTED = "accepted"
    #: The resource was not there (404).
    GONE = "gone"
    #: Dry-run: the first mutating request was refused, as it must be.
    WOULD = "would"


@dataclasses.dataclass(frozen=True)
class Attempt:
    result: Result
    detail: str = ""


class Transient(Exception):
    """A failure worth retrying; ``retry_after`` seconds if the service said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Fatal(Exception):
    """A failure retrying cannot fix (400, 403, ...)."""


class Precheck(str, enum.Enum):
    """The state of a step's resource just before the run, from a batched listing."""

    PRESENT = "present"
    GONE = "gone"
    #: No longer owned by the deleted identity: never touch it.
    OWNER_CHANGED = "owner_changed"
    #: Protected since the plan was made (a keep tag appeared): never touch it.
    PROTECTED = "protected"


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """One listing round for one resource type."""

    gone: frozenset[str] = frozenset()
    #: ids in a terminal error state (e.g. ``error_deleting``), with the reason.
    failed: Mapping[str, str] = dataclasses.field(default_factory=dict)


class Runner(Protocol):
    """The executor's only way to the cloud."""

    def precheck(
        self, steps: Sequence[Step], resources: Mapping[ResourceRef, Resource]
    ) -> Mapping[ResourceRef, Precheck]:
        """Batched: one listing per type, before anything runs."""

    def run(self, step: Step, resource: Resource | None) -> Attempt:
        """One attempt. Raises Transient, Fatal or anything else (treated as fatal)."""

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Resource]) -> Confirmation:
        """One listing of ``rtype`` covering every id whose ``action`` is pending.

        For removals, ``gone`` means no longer listed; for other asynchronous
        actions (stop), it means the target state was reached.
        """

    def lookup_first(self, step: Step, resource: Resource | None) -> bool:
        """Whether ``step``'s resource is likely gone with a step it depends on.

        Such steps are looked up with :meth:`confirm` (``delete``), batched,
        when they become ready, and only run when still listed: a request
        saved per resource that would only have answered 404.
        """


class Observer(Protocol):
    def step_started(self, step: Step, resource: Resource | None) -> None: ...

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None: ...

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None: ...


class NullObserver:
    def step_started(self, step: Step, resource: Resource | None) -> None:
        pass

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        pass

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Limits:
    """The ``[executor]`` options, as plain values."""

    concurrency: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"compute": 8, "block_storage": 8, "network": 8, "image": 4}
    )
    default_concurrency: int = 4
    retry_attempts: int = 8
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 30.0
    confirm_interval: float = 1.0
    #: The longest gap between two listings of one type while they confirm nothing.
    confirm_max_interval: float = 4.0
    confirm_timeout: float = 600.0
    #: Longest a ready step waits for others of its kind to share its lookup listing.
    lookup_wait: float = 10.0

    @classmethod
    def from_conf(cls, conf: Any) -> Limits:
        ex = conf.executor
        return cls(
            concurrency={
                "compute": ex.compute_concurrency,
                "block_storage": ex.block_storage_concurrency,
                "network": ex.network_concurrency,
                "image": ex.image_concurrency,
                "identity": ex.identity_concurrency,
            },
            retry_attempts=ex.retry_attempts,
            retry_max_wait=ex.retry_max_wait,
            confirm_interval=ex.confirm_interval,
            confirm_max_interval=max(ex.confirm_interval, ex.confirm_max_interval),
            confirm_timeout=ex.confirm_timeout,
        )


@dataclasses.dataclass(frozen=True)
class Report:
    plan_hash: str
    outcomes: Mapping[str, Outcome]
    dry_run: bool
    #: Steps in the plan; fewer outcomes mean the run was stopped early.
    total: int = 0

    @property
    def interrupted(self) -> bool:
        return len(self.outcomes) < self.total

    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(o.status.value for o in self.outcomes.values()))

    @property
    def succeeded(self) -> bool:
        """Every step done or already gone (dry-run: every step would run)."""
        return not self.interrupted and all(
            o.status.successful or (self.dry_run and o.status is OutcomeStatus.SKIPPED)
            for o in self.outcomes.values()
        )

    @property
    def deferred(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status is OutcomeStatus.DEFERRED]


#: Dependency outcomes that let a dependent step run.
_SATISFIED = frozenset({OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE})
DRY_RUN_PREFIX = "dry-run: "


class Executor:
    def __init__(
        self,
        runner: Runner,
        *,
        limits: Limits | None = None,
        observer: Observer | None = None,
        dry_run: bool = False,
        now: Callable[[], dt.datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.limits = limits or Limits()
        self.observer = observer or NullObserver()
        self.dry_run = dry_run
        self._now = now
        self._sleep = sleep
        self._monotonic = monotonic

    def execute(
        self,
        plan: Plan,
        *,
        previous: Mapping[str, Outcome] | None = None,
        only: Iterable[str] | None = None,
        stop: threading.Event | None = None,
    ) -> Report:
        """Run ``plan``; steps with a successful ``previous`` outcome are not run again.

        Once ``stop`` is set no further step starts; the run returns when the
        steps in flight (and their confirmations) are finished, leaving the
        others without an outcome for a later run to pick up.
        """
        only_set = set(only) if only is not None else None
        return _Run(self, plan, dict(previous or {}), only_set, stop or threading.Event()).go()


class _Run:
    """The state of one execution: which steps are waiting, running, finished."""

    def __init__(
        self,
        ex: Executor,
        plan: Plan,
        previous: dict[str, Outcome],
        only: set[str] | None,
        stop: threading.Event,
    ) -> None:
        self.ex = ex
        self.stop = stop
        #: Steps submitted to the pool and not finished yet.
        self.running: set[str] = set()
        self.plan = plan
        self.steps = {s.id: s for s in plan.steps}
        self.order = [s.id for s in plan.steps]
        self.resources = {r.ref: r for r in plan.resources}
        self.outcomes: dict[str, Outcome] = {}
        self.previous = previous
        self.only = only
        self.lock = threading.Condition()
        self.waiting_on: dict[str, set[str]] = {}
        self.dependents: dict[str, list[str]] = collections.defaultdict(list)
        for step in plan.steps:
            self.waiting_on[step.id] = set(step.depends_on)
            for dep in step.depends_on:
                self.dependents[dep].append(step.id)
        self.semaphores = collections.defaultdict(
            lambda: threading.BoundedSemaphore(ex.limits.default_concurrency)
        )
        for service, n in ex.limits.concurrency.items():
            self.semaphores[service] = threading.BoundedSemaphore(n)
        workers = sum(ex.limits.concurrency.values()) + ex.limits.default_concurrency
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, workers), thread_name_prefix="reaper-step"
        )
        #: Confirmation listings, one per type, run side by side: waiting for
        #: several types costs the slowest listing, not their sum (which latency
        #: multiplies).
        self.listers = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="reaper-confirm"
        )
        self.pending: dict[tuple[str, str], dict[str, tuple[str, float, Resource]]] = (
            collections.defaultdict(dict)
        )
        #: Per (type, action): when its next confirmation listing is due, whether one
        #: is in flight, and how many listings in a row confirmed nothing (counted no
        #: higher than the step that reaches the longest gap, so that a long wait
        #: does not take as many listings to recover from).
        self.next_listing: dict[tuple[str, str], float] = {}
        self.listing: set[tuple[str, str]] = set()
        self.quiet: collections.Counter[tuple[str, str]] = collections.Counter()
        self.quiet_top = math.ceil(
            math.log(max(ex.limits.confirm_max_interval / ex.limits.confirm_interval, 1.0), 1.5)
        )
        #: Per (type, action): steps not yet accepted or finished (deletions still to send).
        self.unsent: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        for step in plan.steps:
            self.unsent[(step.resource.type, step.action)].add(step.id)
        #: Ready removals to look up before running them (``Runner.lookup_first``), by
        #: type: id -> (step id, resource, when it became ready).
        self.lookups: dict[str, dict[str, tuple[str, Resource, float]]] = collections.defaultdict(
            dict
        )
        #: Steps to look up first that are not ready yet, by type: a lookup listing
        #: waits for them, so that one listing covers them all.
        self.lookup_waiting: dict[str, set[str]] = collections.defaultdict(set)
        if not ex.dry_run:  # in a dry run nothing is removed that could take another along
            for step in plan.steps:
                resource = self.resources.get(step.resource)
                if resource is not None and self._looks_up_first(step, resource):
                    self.lookup_waiting[step.resource.type].add(step.id)
        self.started_at: dict[str, dt.datetime] = {}
        self.attempts: dict[str, int] = collections.defaultdict(int)
        self.retries: dict[str, list[str]] = collections.defaultdict(list)
        self.prechecked: Mapping[ResourceRef, Precheck] = {}
        self.started = False

    # -- the main loop -------------------------------------------------------

    def go(self) -> Report:
        try:
            self._seed()
            to_check = [self.steps[sid] for sid in self.order if sid not in self.outcomes]
            if to_check:
                self.prechecked = self.ex.runner.precheck(to_check, self.resources)
            with self.lock:
                self.started = True
                for sid in self.order:
                    if sid not in self.outcomes and not self.waiting_on[sid]:
                        self._dispatch(sid)
            self._wait()
        finally:
            self.pool.shutdown(wait=True)
            self.listers.shutdown(wait=True)
        return Report(self.plan.content_hash, dict(self.outcomes), self.ex.dry_run, len(self.steps))

    def _seed(self) -> None:
        """Outcomes known before running: earlier runs, and steps not selected."""
        with self.lock:
            for sid in self.order:
                prior = self.previous.get(sid)
                if prior is not None and (prior.status in _SATISFIED):
                    self._finish(sid, prior, notify=False)
            if self.only is not None:
                for sid in self.order:
                    if sid not in self.only and sid not in self.outcomes:
                        prior = self.previous.get(sid)
                        self._finish(
                            sid,
                            prior
                            or Outcome(sid, OutcomeStatus.SKIPPED, "not selected for this run"),
                            notify=False,
                        )

    def _wait(self) -> None:
        interval = self.ex.limits.confirm_interval
        with self.lock:
            while len(self.outcomes) < len(self.steps):
                if self.stop.is_set() and not self.running and not self.pending:
                    return
                due = self._due_lookups()
                if due:
                    self.lock.release()
                    try:
                        self._lookup_round(due)
                    finally:
                        self.lock.acquire()
                    continue
                now = self.ex._monotonic()
                upcoming: list[float] = []
                for key in sorted(k for k, p in self.pending.items() if p):
                    if key in self.listing:
                        continue
                    due = self._listing_due(key)
                    if due <= now:
                        self.listing.add(key)
                        self.listers.submit(self._confirm_batch, key, dict(self.pending[key]))
                    else:
                        upcoming.append(due - now)
                timeout = min(upcoming, default=interval)
                if self.lookups:
                    timeout = min(timeout, self._next_lookup_in())
                self.lock.wait(timeout=max(0.0, timeout))

    # -- dispatching -----------------------------------------------------------

    def _dispatch(self, sid: str) -> None:
        """Called with the lock held, when every dependency has an outcome."""
        step = self.steps[sid]
        blocking = [dep for dep in step.depends_on if not self._satisfies(self.outcomes[dep])]
        if blocking:
            deferred = [d for d in blocking if self.outcomes[d].status is OutcomeStatus.DEFERRED]
            if deferred and len(deferred) == len(blocking):
                self._finish(
                    sid,
                    Outcome(sid, OutcomeStatus.DEFERRED, f"waits for deferred step {deferred[0]}"),
                )
            else:
                first = next(d for d in blocking if d not in deferred)
                self._finish(
                    sid,
                    Outcome(
                        sid,
                        OutcomeStatus.BLOCKED,
                        f"blocked by {first} ({self.outcomes[first].status.value})",
                    ),
                )
            return
        if step.after:
            due = self.plan.created_at + step.after
            if self.ex._now() < due:
                self._finish(
                    sid,
                    Outcome(sid, OutcomeStatus.DEFERRED, f"grace period: due {_iso(due)}"),
                )
                return
        check = self.prechecked.get(step.resource, Precheck.PRESENT)
        if check is Precheck.GONE and self._is_removal(step):
            self._finish(sid, Outcome(sid, OutcomeStatus.ALREADY_GONE, "not listed any more"))
            return
        if check is Precheck.OWNER_CHANGED:
            self._finish(
                sid,
                Outcome(sid, OutcomeStatus.SKIPPED, "no longer owned by the deleted identity"),
            )
            return
        if check is Precheck.PROTECTED:
            self._finish(
                sid, Outcome(sid, OutcomeStatus.SKIPPED, "protected since the plan was made")
            )
            return
        if self.stop.is_set():
            return  # left without an outcome: a later run picks it up
        waiting = self.lookup_waiting.get(step.resource.type)
        if waiting and sid in waiting:
            waiting.discard(sid)
            # Counted as running, so a stop waits for the lookup to settle it.
            self.running.add(sid)
            self.lookups[step.resource.type][step.resource.id] = (
                sid,
                self.resources[step.resource],
                self.ex._monotonic(),
            )
            self.lock.notify_all()
            return
        self._submit(sid)

    def _submit(self, sid: str) -> None:
        """Hand ``sid`` to the pool (lock held)."""
        self.started_at[sid] = self.ex._now()
        self.running.add(sid)
        self.pool.submit(self._run_step, sid)

    def _looks_up_first(self, step: Step, resource: Resource) -> bool:
        if not self._is_removal(step):
            return False
        # Runners written before lookups existed simply never ask for one.
        ask = getattr(self.ex.runner, "lookup_first", None)
        return bool(ask is not None and ask(step, resource))

    def _satisfies(self, outcome: Outcome) -> bool:
        if outcome.status in _SATISFIED:
            return True
        return (
            self.ex.dry_run
            and outcome.status is OutcomeStatus.SKIPPED
            and outcome.reason.startswith(DRY_RUN_PREFIX)
        )

    def _is_removal(self, step: Step) -> bool:
        return step.action == "delete"

    # -- one step --------------------------------------------------------------

    def _run_step(self, sid: str) -> None:
        step = self.steps[sid]
        resource = self.resources.get(step.resource)
        try:
            self.ex.observer.step_started(step, resource)
            attempt = self._attempt_with_retries(step, resource)
        except Exception as exc:
            self._complete(sid, OutcomeStatus.FAILED, _describe(exc))
            return
        if attempt.result is Result.GONE:
            self._complete(sid, OutcomeStatus.ALREADY_GONE, attempt.detail or "404")
        elif attempt.result is Result.WOULD:
            self._complete(sid, OutcomeStatus.SKIPPED, DRY_RUN_PREFIX + attempt.detail)
        elif attempt.result is Result.ACCEPTED:
            assert resource is not None
            with self.lock:
                self.running.discard(sid)
                key = (step.resource.type, step.action)
                now = self.ex._monotonic()
                if not self.pending.get(key):
                    # A deletion just accepted is rarely done: list a while after it, and
                    # not sooner than the pace of this type's earlier listings allows.
                    self.next_listing[key] = max(
                        self.next_listing.get(key, 0.0), now + self.ex.limits.confirm_interval
                    )
                self.pending[key][step.resource.id] = (sid, now, resource)
                self.unsent[key].discard(sid)
                self.lock.notify_all()
        else:
            self._complete(sid, OutcomeStatus.DONE, attempt.detail)

    def _attempt_with_retries(self, step: Step, resource: Resource | None) -> Attempt:
        limits = self.ex.limits
        semaphore = self.semaphores[step.service]

        def once() -> Attempt:
            self.attempts[step.id] += 1
            with semaphore:
                return self.ex.runner.run(step, resource)

        backoff_of = tenacity.wait_exponential_jitter(
            multiplier=limits.retry_initial_wait, max=limits.retry_max_wait
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = backoff_of(state)
            hinted = getattr(exc, "retry_after", None)
            return min(max(backoff, hinted or 0.0), max(limits.retry_max_wait, hinted or 0.0))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            line = f"attempt {state.attempt_number}: {_describe(exc)}; retry in {delay:.1f}s"
            self.retries[step.id].append(line)
            self.ex.observer.step_retrying(step, state.attempt_number, _describe(exc), delay)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(limits.retry_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(Transient),
            before_sleep=before_sleep,
            sleep=self.ex._sleep,
            reraise=True,
        )
        return retrying(once)

    # -- lookups -----------------------------------------------------------------

    def _due_lookups(self) -> dict[str, dict[str, tuple[str, Resource, float]]]:
        """The lookup batches to list now (lock held), taken out of the queue.

        A type's batch is due when no other step of that type still waits
        for its dependencies, when its oldest entry has waited
        ``lookup_wait`` (a bound, not a deadline anyone depends on: it keeps
        a slow branch from holding a fast one), or when the run is stopping.
        """
        now = self.ex._monotonic()
        due = {}
        for rtype, entries in list(self.lookups.items()):
            if not entries:
                del self.lookups[rtype]
                continue
            oldest = min(queued for _, _, queued in entries.values())
            if (
                self.stop.is_set()
                or not self.lookup_waiting.get(rtype)
                or now - oldest >= self.ex.limits.lookup_wait
            ):
                due[rtype] = dict(entries)
                del self.lookups[rtype]
        return due

    def _next_lookup_in(self) -> float:
        """Seconds until the oldest queued lookup is due by ``lookup_wait`` (lock held)."""
        now = self.ex._monotonic()
        oldest = min(q for entries in self.lookups.values() for _, _, q in entries.values())
        return max(0.0, oldest + self.ex.limits.lookup_wait - now)

    def _lookup_round(
        self, batches: Mapping[str, Mapping[str, tuple[str, Resource, float]]]
    ) -> None:
        """One listing per type for the ready removals that are likely gone already.

        Those no longer listed are ``already_gone`` without a request; the
        others (and all of them when the listing fails) run as usual.
        """
        for rtype, entries in sorted(batches.items()):
            try:
                confirmation = self.ex.runner.confirm(
                    rtype, "delete", {rid: res for rid, (_, res, _) in entries.items()}
                )
            except Exception as exc:  # proves nothing: send the requests
                LOG.warning("lookup listing failed", type=rtype, error=_describe(exc))
                confirmation = Confirmation()
            for rid, (sid, _, _) in sorted(entries.items()):
                if rid in confirmation.gone:
                    self._complete(
                        sid,
                        OutcomeStatus.ALREADY_GONE,
                        "not listed any more once the steps it waited for were done",
                    )
                    continue
                with self.lock:
                    self.running.discard(sid)
                    if not self.stop.is_set():
                        self._submit(sid)
                    self.lock.notify_all()

    # -- confirmation ------------------------------------------------------------

    def _listing_due(self, key: tuple[str, str]) -> float:
        """When the next confirmation listing of ``key`` should start (lock held).

        Paced (see ``next_listing``), and held back while more deletions of
        the same kind are still to be sent (volumes released one by one as
        their servers go): one listing a little later then covers them all,
        instead of one listing per wave. Held at most ``confirm_max_interval``
        after the oldest waiting deletion, and not at all once the last one
        was sent, when confirming is all that is left of that kind.
        """
        due = self.next_listing.get(key, 0.0)
        if self.unsent.get(key):
            oldest = min(since for _, since, _ in self.pending[key].values())
            due = max(due, oldest + self.ex.limits.confirm_max_interval)
        return due

    def _confirm_batch(
        self, key: tuple[str, str], entries: Mapping[str, tuple[str, float, Resource]]
    ) -> None:
        """One listing for the (type, action) ``key``, its verdicts, and when to list next."""
        rtype, action = key
        confirmation = Confirmation()
        try:
            confirmation = self.ex.runner.confirm(
                rtype, action, {rid: res for rid, (_, _, res) in entries.items()}
            )
        except Exception as exc:  # a failed listing proves nothing; try again later
            LOG.warning("confirmation listing failed", type=rtype, error=_describe(exc))
        try:
            self._judge(key, entries, confirmation)
        except Exception as exc:  # a listing runs in the background: nobody else would see it
            LOG.error("confirmation verdicts failed", type=rtype, error=_describe(exc))
        finally:
            settled = any(rid in confirmation.gone or rid in confirmation.failed for rid in entries)
            limits = self.ex.limits
            with self.lock:
                self.listing.discard(key)
                # Down one step per listing that found something, not straight back to
                # the interval: deletions that trickle out of a loaded service are
                # collected by fewer listings, and a kind whose listings keep finding
                # something is soon listed at the interval again.
                quiet = self.quiet[key]
                self.quiet[key] = max(0, quiet - 1) if settled else min(self.quiet_top, quiet + 1)
                gap = limits.confirm_interval * 1.5 ** self.quiet[key]
                gap = max(limits.confirm_interval, min(gap, limits.confirm_max_interval))
                self.next_listing[key] = self.ex._monotonic() + gap
                self.lock.notify_all()

    def _judge(
        self,
        key: tuple[str, str],
        entries: Mapping[str, tuple[str, float, Resource]],
        confirmation: Confirmation,
    ) -> None:
        action = key[1]
        now = self.ex._monotonic()
        for rid, (sid, since, _) in entries.items():
            if rid in confirmation.gone:
                self._resolve(key, rid, sid, OutcomeStatus.DONE, _confirmed(action))
            elif rid in confirmation.failed:
                self._resolve(key, rid, sid, OutcomeStatus.FAILED, confirmation.failed[rid])
            elif now - since > self.ex.limits.confirm_timeout:
                self._resolve(
                    key,
                    rid,
                    sid,
                    OutcomeStatus.FAILED,
                    f"still listed {self.ex.limits.confirm_timeout:.0f}s after deletion",
                )

    def _resolve(
        self, key: tuple[str, str], rid: str, sid: str, status: OutcomeStatus, reason: str
    ) -> None:
        with self.lock:
            self.pending[key].pop(rid, None)
            if not self.pending[key]:
                del self.pending[key]
        self._complete(sid, status, reason)

    # -- bookkeeping ---------------------------------------------------------------

    def _complete(self, sid: str, status: OutcomeStatus, reason: str) -> None:
        outcome = Outcome(
            step_id=sid,
            status=status,
            reason=reason,
            attempts=self.attempts.get(sid, 0),
            retries=tuple(self.retries.get(sid, ())),
            started_at=self.started_at.get(sid),
            finished_at=self.ex._now(),
        )
        with self.lock:
            self._finish(sid, outcome)

    def _finish(self, sid: str, outcome: Outcome, *, notify: bool = True) -> None:
        """Record ``outcome`` (lock held) and dispatch dependents that became ready."""
        if sid in self.outcomes:
            return
        self.running.discard(sid)
        waiting = self.lookup_waiting.get(self.steps[sid].resource.type)
        if waiting:
            waiting.discard(sid)  # blocked, skipped...: no lookup will wait for it
        self.outcomes[sid] = outcome
        self.unsent[(self.steps[sid].resource.type, self.steps[sid].action)].discard(sid)
        if notify:
            step = self.steps[sid]
            try:
                self.ex.observer.step_finished(step, outcome, self.resources.get(step.resource))
            except Exception as exc:  # an observer must not wedge the run
                LOG.error("observer failed", step=sid, error=_describe(exc))
        for nxt in self.dependents.get(sid, ()):
            waiting = self.waiting_on[nxt]
            waiting.discard(sid)
            # Before the prechecks are in, go() dispatches whatever became ready.
            if not waiting and nxt not in self.outcomes and self.started:
                self._dispatch(nxt)
        self.lock.notify_all()


def _confirmed(action: str) -> str:
    return "confirmed gone by listing" if action == "delete" else "confirmed by listing"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
