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
  sleeps between retries or waits for confirmation. That bounds one plan;
  the process's cap (every plan and listing at once) and the slowdown on
  429/503 are the session's :class:`~reaper.budget.Budget`.
* The work a removal starts can be bounded too, for servers: with
  ``server_delete_window`` set, at most that many of a plan's servers are in
  progress, from their DELETE until a listing confirms them gone; the next
  is sent when one is (:mod:`~reaper.executor.window`). Nova answers at
  once and works after, on every server handed to it together.
* Transient failures (5xx, 409, 429 honouring ``Retry-After``, connection
  errors, and what the runner marks transient) are retried with tenacity:
  exponential backoff with jitter, bounded in attempts and wait. 404 on a
  removal means ``already_gone``. A conflict (409, a volume in use) fails
  the step like any transient failure until the step has spent
  ``conflict_retry_budget`` attempts over all runs of the plan; then it is
  ``blocked``, its reason starting with ``BUDGET_SPENT``. A refusal the
  runner found a live project behind (:class:`InUse`: a 409 re-examined
  with the resource's users) is not retried at all: the step is ``kept``,
  with those users in its outcome (``used_by``) and audit record.
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
  ``confirm_interval`` after its previous one *ended* (its first, once
  removals of the kind usually are done, as the process's earlier ones
  took: :mod:`~reaper.executor.durations`), never sooner, however many steps finish in
  between; while its listings confirm nothing, the gap grows by half each
  time, up to ``confirm_max_interval``, and it shrinks back a step with
  each listing that confirms something. A slow service (Nova removes a
  couple of servers a second on a small host) is then not asked again and
  again while it works, which costs it time too. While more deletions of a
  kind are still to be sent (volumes released wave by wave as their servers
  go), its listing waits for them, up to ``confirm_max_interval`` after the
  oldest waiting one: one listing then covers several waves. A kind whose
  confirmation would free no step yet is held (snapshots while the servers
  still hold the volumes that wait for them too), listed once that changes
  or once its oldest removal has waited ``confirm_timeout``. A resource
  still listed after ``confirm_timeout`` fails.
* Dry-run is decided here, not in each action: the runner is given a
  read-only client, each action runs up to its first mutating request,
  which is refused and reported as what would have happened. Dependents
  proceed as if it had.

The parts, each in its own module: :mod:`~reaper.executor.contract` (runner,
observer, limits, report), :mod:`~reaper.executor.scheduler` (the waves),
:mod:`~reaper.executor.rules` (a ready step's fate, pure),
:mod:`~reaper.executor.retry` (one step's attempts),
:mod:`~reaper.executor.confirm` (the confirmation poller),
:mod:`~reaper.executor.holds` (which listings can wait),
:mod:`~reaper.executor.lookup` (the lookup batcher),
:mod:`~reaper.executor.window` (the pacing of server deletions) and
:mod:`~reaper.executor.clock` (the one clock the executor hands them all).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from reaper.executor import durations
from reaper.executor.clock import Clock, Interrupted, interruptible
from reaper.executor.contract import (
    DRY_RUN_PREFIX,
    Attempt,
    Checked,
    Confirmation,
    Conflict,
    Fatal,
    InUse,
    InUseNow,
    Limits,
    NullObserver,
    Observer,
    Precheck,
    Report,
    Result,
    Runner,
    Transient,
)
from reaper.executor.durations import Durations
from reaper.executor.scheduler import Scheduler
from reaper.model import BUDGET_SPENT, Outcome, Plan, utcnow

__all__ = [
    "BUDGET_SPENT",
    "DRY_RUN_PREFIX",
    "Attempt",
    "Checked",
    "Clock",
    "Confirmation",
    "Conflict",
    "Durations",
    "Executor",
    "Fatal",
    "InUse",
    "InUseNow",
    "Interrupted",
    "Limits",
    "NullObserver",
    "Observer",
    "Precheck",
    "Report",
    "Result",
    "Runner",
    "Transient",
    "durations",
    "interruptible",
]


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
        durations: Durations | None = None,
    ) -> None:
        """``durations``: what earlier plans' removals took (:data:`durations.PROCESS` in a
        controller); without, this run learns only from itself."""
        self.runner = runner
        self.durations = durations
        self.limits = limits or Limits()
        self.observer = observer or NullObserver()
        self.dry_run = dry_run
        self.clock = Clock(now=now, sleep=sleep, monotonic=monotonic)

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
        requests in flight (and their confirmations) are finished, leaving the
        others without an outcome for a later run to pick up. A step waiting
        to retry is left too, at once, if the executor sleeps with
        :func:`interruptible` over the same event.
        """
        return Scheduler(
            plan,
            runner=self.runner,
            limits=self.limits,
            observer=self.observer,
            clock=self.clock,
            dry_run=self.dry_run,
            previous=dict(previous or {}),
            only=set(only) if only is not None else None,
            stop=stop or threading.Event(),
            durations=self.durations,
        ).go()
