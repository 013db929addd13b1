"""Execute: run a plan, after a batched re-check, and record every step.

The executor stage (:mod:`reaper.executor`) runs the DAG; the road hands it
the cloud's runner, the re-check of what changed since the plan was made
(:mod:`reaper.cleanup.recheck`), the audit observer and any other observers,
and the outcomes of earlier runs of the same plan so that no finished step
runs twice. The plan is persisted by whoever made or loaded it, never here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from reaper.audit.observer import AuditObserver
from reaper.audit.trail import AuditTrail
from reaper.cleanup import recheck
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.executor import Executor, Observer, Report, durations, interruptible
from reaper.inventory.base import Scope
from reaper.model import Outcome, Plan, Resource, Step
from reaper.policy import PolicySet
from reaper.store import Store


def execute_plan(
    cloud: Cloud,
    plan: Plan,
    policies: PolicySet,
    settings: Settings,
    *,
    store: Store,
    trail: AuditTrail,
    dry_run: bool,
    tombstone_id: str | None = None,
    observers: Sequence[Observer] = (),
    scope: Scope | None = None,
    only: Iterable[str] | None = None,
    recheck_first: bool = True,
    stop: threading.Event | None = None,
    decisions_recorded: bool = False,
) -> Report:
    """Run ``plan`` (after a batched re-check of every step) and record everything.

    Steps already finished in an earlier run of the same plan are not run
    again; ``only`` restricts the run to some steps. ``scope`` is what the
    re-check searches (the plan's identity by default; a domain's known
    members for an operator). ``recheck_first=False`` skips the
    re-discovery for a plan made moments ago from a discovery of its own
    (the controller's path, where a second listing would only add latency);
    404s still say what vanished in between. ``dry_run`` runs through a
    runner that refuses every mutating call, whatever ``settings.dry_run``
    says (that one holds plans for approval; it does not make them read-only).
    ``decisions_recorded``: the plan's decisions, with their before-images, are
    in ``trail`` (see :class:`~reaper.audit.observer.AuditObserver`).
    The plan must already be stored when not ``dry_run``: its outcomes are
    recorded against it.
    """
    previous = {} if dry_run else store.plans.outcomes(plan.content_hash)
    prechecker = (
        recheck.prechecker(cloud, plan, policies, settings, scope or Scope.of(plan.identity))
        if recheck_first
        else None
    )
    audit = AuditObserver(
        trail,
        plan,
        tombstone_id=tombstone_id,
        dry_run=dry_run,
        decisions_recorded=decisions_recorded,
    )
    stop = stop or threading.Event()
    executor = Executor(
        cloud.runner(prechecker, plan.content_hash),
        limits=settings.limits,
        observer=Fanout([audit, *observers]),
        dry_run=dry_run,
        sleep=interruptible(stop),  # a stop ends a backoff at once; the step waits for later
        durations=durations.PROCESS,  # each plan's first listings wait as long as earlier ones took
    )
    return executor.execute(plan, previous=previous, only=only, stop=stop)


class Fanout:
    """One observer that tells several."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)

    def step_started(self, step: Step, resource: Resource | None) -> None:
        for observer in self.observers:
            observer.step_started(step, resource)

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        for observer in self.observers:
            observer.step_retrying(step, attempt, error, delay)

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        for observer in self.observers:
            observer.step_finished(step, outcome, resource)
