"""Step and decision records say everything once: who acted, why, what was done, the outcome.

Records after one that describes reaper's initiator and observer in full
name them by id (CADF's ``initiatorId`` / ``observerId``), and step records
leave to their plan's decision record what it already states (issue 18, B3).
What an incident responder needs is still in the trail, for every resource.
"""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pycadf import event as cadf_event

from reaper.audit.groupcommit import GroupCommit
from reaper.audit.observer import AuditObserver
from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditTarget, build
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup.plan import Planned
from reaper.cleanup.record import audit_planned
from reaper.cleanup.verify import IdentityState, Verification
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Outcome,
    OutcomeStatus,
    Plan,
    Resource,
    Step,
    Verdict,
    utcnow,
)
from reaper.store import Store
from reaper.store.errors import StoreUnavailable
from tests.unit.audit.helpers import INITIATOR, OBSERVER, T0

PROJECT = IdentityRef(IdentityKind.PROJECT, "0c5d" + "0" * 28)
SERVERS = tuple(
    Resource(
        type="compute.server",
        id=f"s-{i}",
        name=f"web-{i}",
        project_id=PROJECT.id,
        attributes={"flavor": {"ram": 2048}, "description": None},
    )
    for i in range(2)
)
STEPS = tuple(
    Step(f"delete:compute.server:{s.id}", "delete", s.ref, policy="default", reason="gone")
    for s in SERVERS
)
PLAN = Plan(
    identity=PROJECT,
    created_at=utcnow(),
    resources=SERVERS,
    decisions=tuple(
        Decision(s.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "servers", "gone")
        for s in SERVERS
    ),
    steps=STEPS,
)


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    return AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("c-1"))


def bodies(trail: AuditTrail) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in AuditRepository(trail.store.db).records()]


def described(body: dict[str, Any], trail: AuditTrail) -> bool:
    """Whether ``body`` describes the actors in full (and else names them by id)."""
    if "initiator" in body:
        assert body["initiator"]["id"] == trail.initiator.id
        assert body["observer"]["name"] == "c-1"
        return True
    assert (body["initiatorId"], body["observerId"]) == (trail.initiator.id, trail.observer.id)
    return False


def record_plan(trail: AuditTrail) -> None:
    planned = Planned(
        PLAN,
        Verification(PROJECT, IdentityState.GONE),
        types.SimpleNamespace(mismatches=()),  # type: ignore[arg-type]
        "project.deleted",
    )
    audit_planned(trail, planned, tombstone_id="tomb-1")


def run_steps(trail: AuditTrail, **kwargs: Any) -> None:
    observer = AuditObserver(trail, PLAN, tombstone_id="tomb-1", record_outcomes=False, **kwargs)
    for server, step in zip(SERVERS, STEPS, strict=True):
        observer.step_started(step, server)
        observer.step_finished(step, Outcome(step.id, OutcomeStatus.DONE, "deleted"), server)


def test_a_record_naming_its_actors_by_id_is_the_event_pycadf_would_build() -> None:
    draft = build(
        action="delete",
        outcome="pending",
        target=AuditTarget("compute.server", "6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7"),
        initiator=INITIATOR,
        observer=OBSERVER,
        event_time=T0,
        event_id="7d5c1f7e-2a8b-4f7c-9f0e-1a2b3c4d5e6f",
        actor_ids=True,
    )
    event = cadf_event.Event(
        id=draft.cadf["id"],
        eventTime=draft.cadf["eventTime"],
        action="delete",
        outcome="pending",
        initiatorId=INITIATOR.id,
        observerId=OBSERVER.id,
        targetId="6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7",
    )
    assert event.is_valid()
    expected = dict(vars(event))
    del expected["targetId"]  # the target is still a resource, for the query columns

    assert {k: v for k, v in draft.cadf.items() if k != "target"} == expected
    assert "initiator" not in draft.cadf and "observer" not in draft.cadf


def test_a_plan_batch_describes_the_actors_in_its_first_and_last_record(
    trail: AuditTrail,
) -> None:
    record_plan(trail)

    verification, *decisions, plan = bodies(trail)

    assert described(verification, trail) and described(plan, trail)
    assert [described(d, trail) for d in decisions] == [False, False]
    # Each decision still says what was decided, why, and what the resource was.
    for server, decision in zip(SERVERS, decisions, strict=True):
        assert decision["target"]["id"] == server.id
        assert decision["target"]["name"] == server.name
        assert decision["reason"]["policyId"] == "default:servers"
        assert decision["reaper"]["extra"] == {"actions": ["delete"], "verdict": "act"}
        assert decision["reaper"]["before"]["attributes"] == {"flavor": {"ram": 2048}}
        assert decision["reaper"]["schema"] == "reaper-audit/2"


def test_after_the_decisions_step_records_say_what_happened_and_nothing_twice(
    trail: AuditTrail,
) -> None:
    record_plan(trail)
    run_steps(trail, decisions_recorded=True)

    records = bodies(trail)
    steps = [r for r in records if r["reaper"].get("step_id")]
    decisions = {r["target"]["id"]: r for r in records if "before" in r["reaper"]}

    assert [described(r, trail) for r in steps] == [True, False, False, False]
    for record in steps:
        decision = decisions[record["target"]["id"]]
        assert record["target"] == {"id": decision["target"]["id"], "typeURI": "compute/machine"}
        assert record["reaper"]["plan"] == decision["reaper"]["plan"]
        assert "before" not in record["reaper"] and "before_sha256" not in record["reaper"]
    started, finished = steps[0], steps[1]
    assert (started["action"], started["outcome"]) == ("delete", "pending")
    assert started["reason"] == {"reasonCode": "started", "reasonType": "reaper/reason"}
    assert (finished["action"], finished["outcome"]) == ("delete", "success")
    assert finished["reason"] == {"reasonCode": "deleted", "reasonType": "reaper/reason"}
    assert finished["reaper"]["extra"] == {"attempts": 0, "status": "done"}


def test_without_the_decisions_a_step_record_still_says_its_policy(trail: AuditTrail) -> None:
    run_steps(trail)

    started, finished = bodies(trail)[:2]

    assert described(started, trail) and not described(finished, trail)
    assert started["reason"]["policyId"] == finished["reason"]["policyId"] == "default"
    assert started["reason"]["reasonCode"] == "started: gone"
    assert started["reaper"]["before"]["id"] == SERVERS[0].id


def test_a_dry_run_outcome_names_the_step_action(trail: AuditTrail) -> None:
    run_steps(trail, dry_run=True)

    (first, second) = bodies(trail)
    assert first["action"] == "evaluate"
    assert first["reaper"]["extra"]["step_action"] == "delete"
    assert described(first, trail) and not described(second, trail)


class FailsOnce(AuditRepository):
    """A chain whose first append fails: the database went away for a moment."""

    failed = False

    def append(self, drafts: Sequence[Any], *, conn: Any = None) -> Any:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable("database went away")
        return super().append(drafts, conn=conn)


def test_actors_are_described_again_when_the_record_that_described_them_was_lost(
    trail: AuditTrail,
) -> None:
    trail.repository = FailsOnce(trail.store.db)
    trail.group = GroupCommit(trail.repository.append)  # appends go through the group
    observer = AuditObserver(trail, PLAN, record_outcomes=False)

    with pytest.raises(StoreUnavailable):
        observer.step_started(STEPS[0], SERVERS[0])
    observer.step_started(STEPS[1], SERVERS[1])
    observer.step_finished(STEPS[1], Outcome(STEPS[1].id, OutcomeStatus.DONE, "gone"), SERVERS[1])

    started, finished = bodies(trail)
    assert described(started, trail) and not described(finished, trail)


def test_a_trail_of_older_records_and_lean_ones_verifies(trail: AuditTrail) -> None:
    """Records written before reaper-audit/2 keep their bytes; the chain covers both."""
    older = build(
        action="evaluate",
        outcome="success",
        target=AuditTarget.for_resource(SERVERS[0]),
        initiator=trail.initiator,
        observer=trail.observer,
        plan_hash=PLAN.content_hash,
        before=SERVERS[0],
    )
    # As reaper-audit/1 wrote it: plan id null, a null attribute in the image.
    v1 = dict(older.reaper)
    v1.update(schema="reaper-audit/1", plan={"hash": PLAN.content_hash, "id": None})
    v1["before"] = {**v1["before"], "user_id": None}
    trail.append_many([type(older)(older.cadf, v1, older.index)])
    record_plan(trail)
    run_steps(trail, decisions_recorded=True)
    trail.checkpoint()

    report = verify_store(AuditRepository(trail.store.db), workers=0)

    assert report.ok, report.problems
    assert report.records == 1 + 4 + 4
    assert bodies(trail)[0]["reaper"]["schema"] == "reaper-audit/1"
