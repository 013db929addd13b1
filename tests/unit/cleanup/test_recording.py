"""A step is done only when its outcome and its audit record are both stored.

The audit observer writes the two in one transaction; when that write fails
the step counts as failed: it is not reported done, the tombstone does not
complete, and no outcome row is left without its audit record (the next run
re-checks the step instead of trusting a half-written trace).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.model import OutcomeStatus, TombstoneState
from reaper.policy import PolicySet
from reaper.store import Store
from reaper.store.errors import StoreUnavailable

from .fakes import FakeCloud, server
from .test_worker import notified, worker

S1 = "delete:compute.server:s1"


class OutcomeRecordsFail(AuditRepository):
    """An audit chain whose append of a step's final record fails (the database went away)."""

    def append(self, drafts: Sequence[Any], *, conn: Any = None) -> Any:
        if any(d.reaper.get("step_id") and d.index.outcome != "pending" for d in drafts):
            raise StoreUnavailable("database went away while appending audit records")
        return super().append(drafts, conn=conn)


def step_records(store: Store, step_id: str) -> list[str]:
    bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
    return [b["outcome"] for b in bodies if b["reaper"].get("step_id") == step_id]


def test_a_step_whose_audit_record_cannot_be_written_is_not_done(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.inventory.resources = [server("s1")]
    notified(store)
    trail.repository = OutcomeRecordsFail(store.db)
    done = worker(store, trail, cloud, policies).work_once()
    assert done is not None
    assert done.state is not TombstoneState.COMPLETE
    assert done.state is TombstoneState.PARTIAL
    assert "1 failed" in done.reason
    # The outcome row went with its audit record: neither is stored.
    assert store.plans.outcomes(done.plan_hash or "") == {}
    assert step_records(store, S1) == ["pending"]


def test_the_next_run_rechecks_the_step_and_records_it_with_its_audit_record(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.inventory.resources = [server("s1")]
    notified(store)
    broken = worker(store, trail, cloud, policies)
    trail.repository = OutcomeRecordsFail(store.db)
    first = broken.work_once()
    assert first is not None and first.state is TombstoneState.PARTIAL
    trail.repository = AuditRepository(store.db)
    cloud.inventory.resources = []  # the server went with the first run's request
    store.tombstones.transition(first.id, first.state, next_attempt_at=None)
    done = worker(store, trail, cloud, policies).work_once()
    assert done is not None and done.state is TombstoneState.COMPLETE
    assert cloud.ran == [S1]  # re-checked, not sent again
    outcome = store.plans.outcomes(done.plan_hash or "")[S1]
    assert outcome.status is OutcomeStatus.ALREADY_GONE
    assert step_records(store, S1)[-1] == "success"
