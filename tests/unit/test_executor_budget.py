"""Conflicts have a retry budget: a step that stays in conflict is blocked, not retried for ever.

A 409 or a volume still in use is retried like any transient failure, but
the attempts a step spends on conflicts count over every run of its plan;
once they reach ``conflict_retry_budget`` the step is ``blocked`` with the
blocking reason, and its tombstone is held for a person instead of going
round every hour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from reaper.cleanup import settle
from reaper.executor import BUDGET_SPENT, Conflict, Executor, Report, Result, Transient
from reaper.model import Outcome, OutcomeStatus, TombstoneState

from .test_executor import FAST, Script, plan_of, step

BUDGETED = dataclasses.replace(FAST, retry_attempts=3, conflict_retry_budget=7)
VOLUME = step("block_storage.volume", "v")
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)


def run_again(previous: dict[str, Outcome], behaviour: object) -> Outcome:
    """One run of the volume's plan, after the earlier runs' outcomes."""
    runner = Script({VOLUME.id: behaviour})
    executor = Executor(runner, limits=BUDGETED, sleep=lambda s: None)
    return executor.execute(plan_of(VOLUME), previous=previous).outcomes[VOLUME.id]


def test_a_conflict_within_the_budget_fails_the_step_and_counts_its_attempts() -> None:
    outcome = run_again({}, Conflict("HTTP 400: Invalid volume: Volume status must be available"))
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.attempts == 3


def test_attempts_add_up_over_runs_until_the_step_is_blocked_with_the_reason() -> None:
    in_use = Conflict("HTTP 400: Invalid volume: Volume status must be available, but is in-use")
    previous: dict[str, Outcome] = {}
    statuses = []
    for _ in range(3):
        outcome = run_again(previous, in_use)
        statuses.append(outcome.status)
        previous = {VOLUME.id: outcome}
    assert statuses == [OutcomeStatus.FAILED, OutcomeStatus.FAILED, OutcomeStatus.BLOCKED]
    assert outcome.attempts == 9
    assert outcome.reason.startswith(BUDGET_SPENT)
    assert "in-use" in outcome.reason


def test_other_transient_failures_are_not_budgeted() -> None:
    previous = {VOLUME.id: Outcome(VOLUME.id, OutcomeStatus.FAILED, "503", attempts=100)}
    outcome = run_again(previous, Transient("HTTP 503"))
    assert outcome.status is OutcomeStatus.FAILED


def test_a_conflict_that_clears_lets_the_step_finish() -> None:
    previous = {VOLUME.id: Outcome(VOLUME.id, OutcomeStatus.FAILED, "409", attempts=6)}
    outcome = run_again(previous, lambda n: Conflict("HTTP 409") if n == 1 else Result.DONE)
    assert outcome.status is OutcomeStatus.DONE


def test_a_blocked_step_holds_its_tombstone_with_the_reason_instead_of_retrying() -> None:
    outcome = run_again(
        {VOLUME.id: Outcome(VOLUME.id, OutcomeStatus.FAILED, "409", attempts=6)},
        Conflict("HTTP 409: volume is attached"),
    )
    plan = plan_of(VOLUME)
    report = Report(plan.content_hash, {VOLUME.id: outcome}, dry_run=False, total=1)
    to, changes = settle.after_run(report, plan, attempts=12, now=NOW)
    assert to is TombstoneState.HELD
    assert changes["reason"].startswith(f"blocked: {VOLUME.id}: {BUDGET_SPENT}")
    assert "volume is attached" in changes["reason"]
    assert "next_attempt_at" not in changes


def test_a_failure_beside_a_blocked_step_keeps_the_tombstone_retrying() -> None:
    other = step("network.port", "p")
    blocked = Outcome(VOLUME.id, OutcomeStatus.BLOCKED, f"{BUDGET_SPENT} (7 attempts): 409")
    failed = Outcome(other.id, OutcomeStatus.FAILED, "HTTP 503")
    plan = plan_of(VOLUME, other)
    outcomes = {VOLUME.id: blocked, other.id: failed}
    report = Report(plan.content_hash, outcomes, dry_run=False, total=2)
    to, changes = settle.after_run(report, plan, attempts=3, now=NOW)
    assert to is TombstoneState.PARTIAL and changes["next_attempt_at"] > NOW
