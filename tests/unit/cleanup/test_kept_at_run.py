"""A removal refused because a live project uses the resource is kept, once, and says who.

The runner's re-examination (``tests/unit/test_runner_in_use.py``) raises
``InUse``; here the executor and the audit observer, over a real store, make
of it one ``kept`` outcome: no retry, no failure record, the users in the
record's ``reaper_used_by``. A conflict nobody alive is behind still goes
through its retries, for contrast.
"""

from __future__ import annotations

import dataclasses
import json

from reaper.audit.observer import AuditObserver
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.executor import Conflict, Executor, InUse
from reaper.model import OutcomeStatus
from reaper.store import Store

from ..test_executor import FAST, Script, plan_of, step

USE = {
    "project_id": "l-live",
    "type": "network.port",
    "id": "p-1",
    "detail": "port p-1 on server s-1",
    "kind": "use",
}
KEPT = "kept: in use by live project l-live (port p-1 on server s-1)"
SUBNET = step("network.subnet", "sub-1")
POOL = step("network.subnet_pool", "pool-1")


def test_a_live_user_keeps_the_step_at_once_with_one_record_naming_it(
    store: Store, trail: AuditTrail
) -> None:
    plan = plan_of(SUBNET, POOL)
    store.plans.save(plan)
    runner = Script(
        {SUBNET.id: InUse(KEPT, [USE]), POOL.id: Conflict("HTTP 400: Subnet pool has allocations")}
    )
    limits = dataclasses.replace(FAST, retry_attempts=3)
    executor = Executor(runner, limits=limits, observer=AuditObserver(trail, plan))
    report = executor.execute(plan)

    kept = report.outcomes[SUBNET.id]
    assert (kept.status, kept.reason, kept.attempts, kept.retries) == (
        OutcomeStatus.KEPT,
        KEPT,
        1,
        (),
    )
    assert kept.used_by == (USE,)
    assert runner.calls[SUBNET.id] == 1
    stored = store.plans.outcome(plan.content_hash, SUBNET.id)
    assert (stored.status, stored.used_by) == (OutcomeStatus.KEPT, (USE,))
    assert store.plans.outcome(plan.content_hash, POOL.id).used_by == ()

    bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
    subnet = [b for b in bodies if b["reaper"].get("step_id") == SUBNET.id]
    assert [b["outcome"] for b in subnet] == ["pending", "pending"]  # started, kept
    assert subnet[-1]["reaper"]["extra"]["reaper_used_by"] == [USE]
    assert subnet[-1]["reaper"]["extra"]["status"] == "kept"
    assert subnet[-1]["reason"]["reasonCode"] != "error"
    # The conflict nobody alive is behind: every attempt but the last is a failure record.
    pool = [b["outcome"] for b in bodies if b["reaper"].get("step_id") == POOL.id]
    assert pool.count("failure") == 3
    assert report.outcomes[POOL.id].status is OutcomeStatus.FAILED


def test_apply_exits_0_when_what_did_not_run_was_kept_for_a_live_project() -> None:
    """As for a resource the plan kept: the tombstone waits; nothing failed."""
    from reaper.cli import exitcodes
    from reaper.cli.apply import exit_status
    from reaper.executor import Report
    from reaper.model import Outcome

    def report(*statuses: OutcomeStatus, total: int | None = None) -> Report:
        outcomes = {f"s{i}": Outcome(f"s{i}", s) for i, s in enumerate(statuses)}
        return Report("h", outcomes, dry_run=False, total=len(statuses) if total is None else total)

    assert exit_status(report(OutcomeStatus.DONE, OutcomeStatus.KEPT)) == exitcodes.OK
    assert exit_status(report(OutcomeStatus.KEPT, OutcomeStatus.FAILED)) == exitcodes.FAILED
    assert exit_status(report(OutcomeStatus.KEPT, total=2)) == exitcodes.FAILED  # interrupted
