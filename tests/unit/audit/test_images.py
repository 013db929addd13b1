"""Before-images are stored once and referenced by hash from a step's other records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reaper import canonical
from reaper.audit.observer import AuditObserver
from reaper.audit.record import Actor, AuditTarget, image_sha256
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
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

PROJECT = IdentityRef(IdentityKind.PROJECT, "0c5d" + "0" * 28)
SERVER = Resource(
    type="compute.server",
    id="s-1",
    name="web",
    project_id=PROJECT.id,
    attributes={"flavor": {"ram": 2048}, "metadata": {"owner": "team-a"}, "password": "hunter2"},
)
STEP = Step("delete:compute.server:s-1", "delete", SERVER.ref, reason="owner deleted")
PLAN = Plan(
    identity=PROJECT,
    created_at=utcnow(),
    resources=(SERVER,),
    decisions=(Decision(SERVER.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "r", "gone"),),
    steps=(STEP,),
)


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    return AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))


def reaper_fields(trail: AuditTrail) -> list[dict]:
    return [json.loads(r.body)["reaper"] for r in AuditRepository(trail.store.db).records()]


def run_step(trail: AuditTrail, **kwargs: bool) -> None:
    observer = AuditObserver(trail, PLAN, record_outcomes=False, **kwargs)
    observer.step_started(STEP, SERVER)
    observer.step_finished(STEP, Outcome(STEP.id, OutcomeStatus.DONE, "gone"), SERVER)


def test_a_record_with_an_image_names_its_hash_over_the_image_as_stored(
    trail: AuditTrail,
) -> None:
    trail.append(
        action="evaluate", outcome="success", target=AuditTarget.for_resource(SERVER), before=SERVER
    )

    (fields,) = reaper_fields(trail)

    digest = hashlib.sha256(canonical.dumps(fields["before"])).hexdigest()
    assert fields["before_sha256"] == digest == image_sha256(SERVER)
    assert fields["before"]["attributes"]["password"] != "hunter2"  # scrubbed before hashing


def test_when_the_decisions_hold_the_images_step_records_only_refer_to_them(
    trail: AuditTrail,
) -> None:
    trail.append(
        action="evaluate", outcome="success", target=AuditTarget.for_resource(SERVER), before=SERVER
    )

    run_step(trail, decisions_recorded=True)

    decision, started, finished = reaper_fields(trail)
    assert "before" not in started and "before" not in finished
    assert started["before_sha256"] == finished["before_sha256"] == decision["before_sha256"]


def test_without_recorded_decisions_a_step_carries_its_image_once(trail: AuditTrail) -> None:
    run_step(trail)

    started, finished = reaper_fields(trail)
    assert started["before"]["id"] == "s-1"
    assert "before" not in finished
    assert finished["before_sha256"] == started["before_sha256"]
