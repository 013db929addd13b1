"""Plans by content hash; each step's outcome recorded once and for all."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from reaper import canonical
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Outcome,
    OutcomeStatus,
    Plan,
    PlanIntegrityError,
    ResourceRef,
    Step,
    Trigger,
    TriggerSource,
)
from reaper.store import NotFound, StepAlreadyFinal, Store
from reaper.store.plans import pack, unpack
from tests.functional.store_fixtures import raw_engine

pytestmark = pytest.mark.functional

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
PROJECT = IdentityRef(IdentityKind.PROJECT, "0" * 32)


def plan(created: dt.datetime = T0, steps: int = 2) -> Plan:
    return Plan(
        identity=PROJECT,
        created_at=created,
        steps=tuple(
            Step(
                id=f"s{i}",
                action="delete",
                resource=ResourceRef("compute.server", f"srv{i}"),
                policy="default",
                reason="owner gone",
            )
            for i in range(steps)
        ),
    )


def test_a_saved_plan_loads_back_equal_under_its_content_hash(store: Store) -> None:
    digest = store.plans.save(plan())

    assert digest == plan().content_hash
    assert store.plans.load(digest) == plan()


def test_saving_the_same_plan_twice_stores_it_once(store: Store) -> None:
    assert store.plans.save(plan()) == store.plans.save(plan())


def test_the_latest_plan_of_an_identity_is_the_newest(store: Store) -> None:
    store.plans.save(plan(T0))
    store.plans.save(plan(T0 + dt.timedelta(hours=1), steps=3))

    latest = store.plans.latest(PROJECT)

    assert latest is not None and len(latest.steps) == 3
    assert store.plans.latest(IdentityRef(IdentityKind.USER, "x")) is None


def test_an_unknown_plan_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.plans.load("ab" * 32)


def test_a_plan_edited_in_the_database_is_refused_on_load(store: Store, store_url: str) -> None:
    digest = store.plans.save(plan())
    data = plan().to_dict()
    data["steps"][0]["action"] = "detach"
    engine = raw_engine(store_url)
    with engine.connect() as conn:
        conn.execute(
            text("UPDATE plans SET body = :body WHERE hash = :hash"),
            {"body": json.dumps(data), "hash": digest},
        )
    engine.dispose()

    with pytest.raises(PlanIntegrityError):
        store.plans.load(digest)


def test_a_plan_swapped_under_another_hash_is_refused_on_load(store: Store, store_url: str) -> None:
    a = store.plans.save(plan(T0))
    other = plan(T0 + dt.timedelta(days=1))
    store.plans.save(other)
    engine = raw_engine(store_url)
    with engine.connect() as conn:
        conn.execute(
            text("UPDATE plans SET body = :body WHERE hash = :hash"),
            {"body": canonical.dumps(other.to_dict()).decode(), "hash": a},
        )
    engine.dispose()

    with pytest.raises(PlanIntegrityError, match="stored as"):
        store.plans.load(a)


def test_a_plan_is_stored_deflated_and_an_older_row_of_plain_json_still_loads(
    store: Store, store_url: str
) -> None:
    saved = plan(steps=20)
    digest = store.plans.save(saved)
    engine = raw_engine(store_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT body FROM plans WHERE hash = :h"), {"h": digest}).one()
        as_json = canonical.dumps(saved.to_dict()).decode()
        assert stored.body.startswith("zlib:") and len(stored.body) < len(as_json) / 2
        assert unpack(stored.body) == as_json
        # As reaper wrote plans before they were deflated:
        conn.execute(
            text("UPDATE plans SET body = :body WHERE hash = :hash"),
            {"body": as_json, "hash": digest},
        )
    engine.dispose()

    assert store.plans.load(digest) == saved


@pytest.mark.parametrize("edit", ["deflated", "garbled"])
def test_a_deflated_plan_edited_in_the_database_is_refused_on_load(
    store: Store, store_url: str, edit: str
) -> None:
    digest = store.plans.save(plan())
    data = plan().to_dict()
    data["steps"][0]["action"] = "detach"
    body = pack(canonical.dumps(data)) if edit == "deflated" else "zlib:not-a-zlib-stream"
    engine = raw_engine(store_url)
    with engine.connect() as conn:
        conn.execute(
            text("UPDATE plans SET body = :body WHERE hash = :hash"),
            {"body": body, "hash": digest},
        )
    engine.dispose()

    with pytest.raises(PlanIntegrityError):
        store.plans.load(digest)


# -- outcomes ----------------------------------------------------------------


def done(step: str, status: OutcomeStatus = OutcomeStatus.DONE, **kw: object) -> Outcome:
    return Outcome(step, status, reason="", attempts=1, **kw)  # type: ignore[arg-type]


def test_outcomes_are_recorded_per_step(store: Store) -> None:
    digest = store.plans.save(plan())
    tomb = store.tombstones.record_trigger(PROJECT, Trigger(TriggerSource.CLI)).tombstone
    outcome = Outcome(
        "s0",
        OutcomeStatus.DONE,
        reason="deleted",
        attempts=3,
        retries=("409 in use", "503"),
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=5),
    )

    store.plans.record_outcome(digest, outcome, tombstone_id=tomb.id)

    assert store.plans.outcome(digest, "s0") == outcome
    assert store.plans.outcomes(digest) == {"s0": outcome}
    assert store.plans.outcome(digest, "s1") is None


@pytest.mark.parametrize(
    "final", [OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE, OutcomeStatus.SKIPPED]
)
def test_a_step_with_a_final_outcome_is_never_recorded_again(
    store: Store, final: OutcomeStatus
) -> None:
    digest = store.plans.save(plan())
    store.plans.record_outcome(digest, done("s0", final))

    with pytest.raises(StepAlreadyFinal, match=final.value):
        store.plans.record_outcome(digest, done("s0", OutcomeStatus.FAILED))

    assert store.plans.outcome(digest, "s0") == done("s0", final)


@pytest.mark.parametrize(
    "retryable", [OutcomeStatus.FAILED, OutcomeStatus.BLOCKED, OutcomeStatus.HELD]
)
def test_a_step_that_may_run_again_gets_its_new_outcome(
    store: Store, retryable: OutcomeStatus
) -> None:
    digest = store.plans.save(plan())
    store.plans.record_outcome(digest, done("s0", retryable))

    store.plans.record_outcome(digest, done("s0", OutcomeStatus.DONE))

    assert store.plans.outcome(digest, "s0") == done("s0", OutcomeStatus.DONE)


def test_a_deferred_step_needs_the_time_it_becomes_due(store: Store) -> None:
    digest = store.plans.save(plan())

    with pytest.raises(ValueError, match="due_at"):
        store.plans.record_outcome(digest, done("s0", OutcomeStatus.DEFERRED))


def test_deferred_steps_are_listed_once_due_earliest_first(store: Store) -> None:
    digest = store.plans.save(plan(steps=3))
    tomb = store.tombstones.record_trigger(PROJECT, Trigger(TriggerSource.CLI)).tombstone
    for step, hours in (("s0", 2), ("s1", 1), ("s2", 48)):
        store.plans.record_outcome(
            digest,
            done(step, OutcomeStatus.DEFERRED),
            tombstone_id=tomb.id,
            due_at=T0 + dt.timedelta(hours=hours),
        )

    due = store.plans.due_deferred(now=T0 + dt.timedelta(hours=3))

    assert [(d.step_id, d.tombstone_id) for d in due] == [("s1", tomb.id), ("s0", tomb.id)]
    assert due[0].due_at == T0 + dt.timedelta(hours=1)
    assert store.plans.due_deferred(now=T0) == []


def test_a_deferred_step_that_ran_is_no_longer_due(store: Store) -> None:
    digest = store.plans.save(plan())
    store.plans.record_outcome(
        digest, done("s0", OutcomeStatus.DEFERRED), due_at=T0 + dt.timedelta(hours=1)
    )

    store.plans.record_outcome(digest, done("s0"))

    assert store.plans.due_deferred(now=T0 + dt.timedelta(days=1)) == []
