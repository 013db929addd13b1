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


def bodies(trail: AuditTrail) -> list[dict]:
    return [json.loads(r.body) for r in AuditRepository(trail.store.db).records()]


def reaper_fields(trail: AuditTrail) -> list[dict]:
    return [body["reaper"] for body in bodies(trail)]


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


def test_when_the_decisions_hold_the_images_step_records_name_their_decision(
    trail: AuditTrail,
) -> None:
    trail.append(
        action="evaluate",
        outcome="success",
        target=AuditTarget.for_resource(SERVER),
        plan_hash=PLAN.content_hash,
        before=SERVER,
    )

    run_step(trail, decisions_recorded=True)

    decision, started, finished = bodies(trail)
    for step in (started, finished):
        ours = step["reaper"]
        assert "before" not in ours and "before_sha256" not in ours
        # The decision of the same plan and target holds the image and its hash.
        assert ours["plan"] == decision["reaper"]["plan"] == {"hash": PLAN.content_hash}
        assert step["target"]["id"] == decision["target"]["id"] == SERVER.id
    assert decision["reaper"]["before_sha256"] == image_sha256(SERVER)
    assert decision["reaper"]["before"]["id"] == SERVER.id


def test_without_recorded_decisions_a_step_carries_its_image_once(trail: AuditTrail) -> None:
    run_step(trail)

    started, finished = reaper_fields(trail)
    assert started["before"]["id"] == "s-1"
    assert "before" not in finished
    assert finished["before_sha256"] == started["before_sha256"]


def test_an_image_leaves_out_what_is_null_and_its_hash_is_over_what_it_holds(
    trail: AuditTrail,
) -> None:
    unset = Resource(
        type="compute.server",
        id="s-2",
        project_id=PROJECT.id,
        attributes={"description": None, "fault": None, "flavor": {"swap": None}, "tags": []},
    )
    trail.append(
        action="evaluate", outcome="success", target=AuditTarget.for_resource(unset), before=unset
    )

    (fields,) = reaper_fields(trail)

    image = fields["before"]
    # Unset attributes (and the resource's unset fields) are left out; nested values are kept.
    assert image["attributes"] == {"flavor": {"swap": None}, "tags": []}
    assert "name" not in image and "user_id" not in image
    assert image["id"] == "s-2" and image["project_id"] == PROJECT.id
    digest = hashlib.sha256(canonical.dumps(image)).hexdigest()
    assert fields["before_sha256"] == digest == image_sha256(unset)
