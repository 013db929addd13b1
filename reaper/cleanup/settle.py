"""Settle: what the outcome of a run makes of its tombstone. Pure.

* interrupted by a shutdown: stays ``executing``, lease given back, resumed
  on the next claim;
* a step's conflicts spent its retry budget (and nothing else failed):
  ``held`` with the blocking reason, for a person to resolve and approve,
  instead of being retried every hour for ever;
* a step failed or was blocked: ``partial``, retried after a backoff that
  grows with the attempts (:func:`backoff`);
* a step waits for its grace period: ``deferred`` until the earliest such
  step is due;
* every step ran but the plan is incomplete (an inventory handler failed, so
  the identity may own resources nobody listed): ``partial``, retried with
  backoff; the retry discovers and plans afresh (the worker), so the service
  that failed is asked again. A service the cloud does not run is no failure;
* every step that could run ran, and what is left is kept because a live
  project uses it (:mod:`~reaper.cleanup.waiting`): ``waiting``, no retry
  time (the sweep re-checks it); a kept step is no failure;
* otherwise ``complete``: every handler answered, every step finished and
  nothing is left that the policies meant to remove.

And the changes that send a tombstone round again: later with backoff
(:func:`retry_later`), or when Keystone can be used again
(:func:`waiting_for_keystone`); and whether a resumed run may execute its
plan without discovering again first (:func:`reuses_discovery`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reaper import planner
from reaper.cleanup import waiting
from reaper.executor import Report
from reaper.inventory.discover import failures
from reaper.model import BUDGET_SPENT, Outcome, OutcomeStatus, Plan, TombstoneState

#: Retry delays grow from a few seconds to an hour.
BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_MAX = dt.timedelta(hours=1)


def backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def after_run(
    report: Report, plan: Plan, *, attempts: int, now: dt.datetime
) -> tuple[TombstoneState, dict[str, Any]]:
    """The state to move to, and the changes to store with it (the lease is given back)."""
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items()))
    if report.interrupted:
        reason = f"interrupted by shutdown after {counts or 'no step'}"
        return TombstoneState.EXECUTING, {"reason": reason, "release": True}
    statuses = {o.status for o in report.outcomes.values()}
    spent = [(sid, o) for sid, o in sorted(report.outcomes.items()) if budget_spent(o)]
    if spent and OutcomeStatus.FAILED not in statuses:
        sid, outcome = spent[0]
        reason = f"blocked: {sid}: {outcome.reason}; resolve it, then reaper approve"
        return TombstoneState.HELD, {"reason": reason[:1000], "release": True}
    if statuses & {OutcomeStatus.FAILED, OutcomeStatus.BLOCKED}:
        retry_at = now + backoff(attempts)
        return TombstoneState.PARTIAL, {
            "reason": counts,
            "next_attempt_at": retry_at,
            "release": True,
        }
    if OutcomeStatus.DEFERRED in statuses:
        due = min(
            planner.due_at(plan, sid)
            for sid, o in report.outcomes.items()
            if o.status is OutcomeStatus.DEFERRED
        )
        return TombstoneState.DEFERRED, {"reason": counts, "next_attempt_at": due, "release": True}
    missed = failures(plan.incomplete)
    if missed:
        return TombstoneState.PARTIAL, {
            "reason": f"{counts or 'no step'}; plan incomplete, discovered again later: "
            + "; ".join(missed),
            "next_attempt_at": now + backoff(attempts),
            "release": True,
        }
    waits = waiting.kept(plan, report.outcomes)
    if waits:
        return TombstoneState.WAITING, {
            "reason": f"{counts or 'no step'}; {waiting.summary(waits)}"[:1000],
            "next_attempt_at": None,
            "release": True,
        }
    return TombstoneState.COMPLETE, {"reason": counts, "release": True}


def budget_spent(outcome: Outcome) -> bool:
    """A step blocked because conflicts used up its retry budget (not by a dependency)."""
    return outcome.status is OutcomeStatus.BLOCKED and outcome.reason.startswith(BUDGET_SPENT)


def retry_later(reason: str, *, attempts: int, now: dt.datetime) -> dict[str, Any]:
    """Keystone could not say, or something unexpected failed: the same state, later."""
    return {"reason": reason, "next_attempt_at": now + backoff(attempts), "release": True}


def waiting_for_keystone(problem: object, seconds: float, now: dt.datetime) -> dict[str, Any]:
    """Keystone cannot be used at all: the same state until the gate lets a try in."""
    return {
        "reason": f"waiting for Keystone: {problem}",
        "next_attempt_at": now + dt.timedelta(seconds=seconds),
        "release": True,
    }


def missed(plan: Plan) -> bool:
    """Whether ``plan`` was made while a handler failed (so a retry must discover again)."""
    return bool(failures(plan.incomplete))


def reuses_discovery(
    state: TombstoneState, plan: Plan, now: dt.datetime, bound: dt.timedelta
) -> bool:
    """Whether a resumed run may execute ``plan`` on the discovery it was made from.

    Only a run the controller stopped in the middle of (``executing``), and
    only while the plan is younger than ``bound``: such a run is the fresh
    run that made the plan, continued, and a fresh run re-checks nothing
    either (404s still say what vanished). Anything else re-checks every
    step against a fresh discovery first: an approved plan (``planned``),
    failed steps tried again (``partial``), a grace period that ended
    (``deferred``), a plan older than ``bound``, a zero ``bound``, and a plan
    dated in the future (another controller's clock: its age is not known).
    """
    age = now - plan.created_at
    return state is TombstoneState.EXECUTING and dt.timedelta(0) <= age < bound
