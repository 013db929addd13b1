"""Evidence copies: one per step, however often the step runs or the plan is executed."""

from __future__ import annotations

import itertools
import types
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from reaper.actions.base import StepKey
from reaper.actions.evidence import STEP_KEY, EvidenceSnapshot, copy_name
from reaper.actions.runner import SdkRunner
from reaper.executor import Fatal, Result, Transient
from reaper.model import Resource, ResourceRef, Step

VOLUME = Resource(type="block_storage.volume", id="vol-1", project_id="p1", attributes={"size": 2})
SERVER = Resource(type="compute.server", id="vm-1", project_id="p1")
_ids = itertools.count(1)


def copy(name: str, status: str, labels: dict[str, str], field: str) -> Any:
    return types.SimpleNamespace(
        id=f"copy-{next(_ids)}",
        name=name,
        status=status,
        created_at=f"2026-12-05T00:00:{next(_ids):02d}",
        owner="reaper",
        **{field: dict(labels)},
    )


class Cloud:
    """Cinder, Glance and Nova as an evidence copy sees them.

    ``lose_answers``: create requests whose answer is lost after the copy was made
    (a connection reset). ``slow_waits``: waits that time out before the copy is ready.
    """

    def __init__(self, *, lose_answers: int = 0, slow_waits: int = 0) -> None:
        self.volumes_made: list[Any] = []
        self.images_made: list[Any] = []
        self.lose_answers = lose_answers
        self.slow_waits = slow_waits
        self.owner_changes: list[tuple[str, str]] = []
        self.block_storage = types.SimpleNamespace(
            volumes=self._list_volumes,
            create_volume=self._create_volume,
            wait_for_status=self._wait,
        )
        self.image = types.SimpleNamespace(
            images=self._list_images,
            get_image=lambda image_id: next(i for i in self.images_made if i.id == image_id),
            wait_for_status=self._wait,
            update_image=self._update_image,
        )
        self.compute = types.SimpleNamespace(create_server_image=self._create_image)

    def _answer(self, made: Any) -> Any:
        if self.lose_answers:
            self.lose_answers -= 1
            raise ConnectionResetError("connection reset by peer")
        return made

    def _list_volumes(self, *, details: bool, name: str) -> list[Any]:
        return [v for v in self.volumes_made if v.name == name]

    def _create_volume(self, *, name: str, size: int, source_volume_id: str, metadata: Any) -> Any:
        made = copy(name, "creating", metadata, "metadata")
        self.volumes_made.append(made)
        return self._answer(made)

    def _list_images(self, *, name: str, visibility: str) -> list[Any]:
        return [i for i in self.images_made if i.name == name]

    def _create_image(self, server_id: str, name: str, metadata: Any) -> Any:
        made = copy(name, "queued", metadata, "properties")
        self.images_made.append(made)
        return self._answer(made)

    def _wait(self, obj: Any, status: str, failures: list[str], wait: int) -> Any:
        if self.slow_waits:
            self.slow_waits -= 1
            raise sdk_exc.ResourceTimeout("still copying")
        obj.status = status
        return obj

    def _update_image(self, image: Any, owner: str) -> None:
        image.owner = owner
        self.owner_changes.append((image.id, owner))


def evidence_step(resource: Resource, params: dict[str, Any] | None = None) -> Step:
    ref = ResourceRef(resource.type, resource.id)
    return Step(
        id=f"evidence_snapshot:{ref.type}:{ref.id}",
        action="evidence_snapshot",
        resource=ref,
        params=params or {},
    )


def run(cloud: Cloud, resource: Resource, plan_hash: str = "h1", **params: Any) -> Any:
    """One attempt of the step, through the runner, as the executor makes it."""
    runner = SdkRunner(cloud, actions={"evidence_snapshot": EvidenceSnapshot}, plan_hash=plan_hash)
    return runner.run(evidence_step(resource, params), resource)


def attempts(cloud: Cloud, resource: Resource, tries: int = 10, **params: Any) -> Any:
    """Retry transient failures as the executor does, until an attempt succeeds."""
    for _ in range(tries):
        try:
            return run(cloud, resource, **params)
        except Transient:
            continue
    raise AssertionError("never succeeded")


@pytest.mark.parametrize(("resource", "made"), [(VOLUME, "volumes_made"), (SERVER, "images_made")])
def test_a_copy_whose_create_answer_was_lost_is_found_not_made_again(resource, made) -> None:
    cloud = Cloud(lose_answers=1)

    attempt = attempts(cloud, resource)

    assert attempt.result is Result.DONE
    assert len(getattr(cloud, made)) == 1


@pytest.mark.parametrize(("resource", "made"), [(VOLUME, "volumes_made"), (SERVER, "images_made")])
def test_a_slow_copy_is_waited_for_again_not_started_again(resource, made) -> None:
    cloud = Cloud(slow_waits=3)

    attempt = attempts(cloud, resource)

    assert attempt.result is Result.DONE
    assert len(getattr(cloud, made)) == 1


def test_a_plan_executed_again_finds_the_copy_its_step_made() -> None:
    cloud = Cloud()
    first = run(cloud, VOLUME)

    again = run(cloud, VOLUME)

    assert again.detail == first.detail
    assert len(cloud.volumes_made) == 1


def test_another_plan_makes_a_copy_of_its_own() -> None:
    cloud = Cloud()
    run(cloud, VOLUME, plan_hash="h1")
    run(cloud, VOLUME, plan_hash="h2")
    assert len({v.name for v in cloud.volumes_made}) == 2


def test_the_copy_is_named_and_labelled_after_its_step() -> None:
    cloud = Cloud()
    run(cloud, VOLUME, plan_hash="h1")
    (made,) = cloud.volumes_made
    step = StepKey("h1", evidence_step(VOLUME).id)
    assert made.name == copy_name(step)
    assert made.metadata[STEP_KEY] == "h1/evidence_snapshot:block_storage.volume:vol-1"
    assert made.metadata["reaper:evidence-of"] == "block_storage.volume:vol-1"


def test_a_copy_with_the_name_but_not_the_label_is_not_taken_for_the_steps() -> None:
    cloud = Cloud()
    name = copy_name(StepKey("h1", evidence_step(VOLUME).id))
    cloud.volumes_made.append(copy(name, "available", {}, "metadata"))

    run(cloud, VOLUME)

    assert len(cloud.volumes_made) == 2


def test_a_failed_copy_fails_the_step_and_is_not_copied_again() -> None:
    cloud = Cloud()
    run(cloud, VOLUME)
    cloud.volumes_made[0].status = "error"

    with pytest.raises(Fatal, match="status error"):
        run(cloud, VOLUME)

    assert len(cloud.volumes_made) == 1


def test_a_server_image_is_handed_to_the_evidence_project_once() -> None:
    cloud = Cloud()
    run(cloud, SERVER, evidence_project="security")
    run(cloud, SERVER, evidence_project="security")
    assert cloud.owner_changes == [(cloud.images_made[0].id, "security")]


def test_without_its_step_an_evidence_copy_is_refused() -> None:
    with pytest.raises(Fatal, match="named after its step"):
        EvidenceSnapshot().run(Cloud(), VOLUME, {})
