"""Evidence: copies taken before deletion, for incident response.

The copy is made with reaper's own (admin) credentials, so it belongs to
reaper's project, not to the deleted one: a later cleanup of the deleted
project never removes it, and a volume copy is an independent clone rather
than a snapshot, because a snapshot would keep its volume from being
deleted. Each copy carries ``reaper:evidence-of`` and its retention date.
With ``evidence_project``, an image copy is handed to that project
(Glance lets an admin change an image's owner). A Swift container's and a
Heat stack's evidence is a document instead (:mod:`reaper.actions.documents`).

One step makes at most one copy, however often it runs. A full copy takes
minutes, so an attempt may time out while it waits, or lose the answer to
its create request; the executor then retries, and a plan may be executed
again (by ``apply`` on another host, or after a crash). Each copy is
therefore named after its step (:func:`copy_name`, a digest of the plan's
hash and the step's id) and labelled with both (``reaper:evidence-step``):
every attempt first looks for the step's copy, waits for it when it is
still being made, and creates one only when there is none. A copy that
failed (``error``, ``killed``) fails the step for good rather than being
copied again: what to do with it is an operator's call, and the removal
that waits for the evidence does not run without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions import documents
from reaper.actions.base import Action, StepKey
from reaper.executor import Attempt, Fatal, Result
from reaper.model import Resource

RETENTION_KEY = "reaper:evidence-until"
SOURCE_KEY = "reaper:evidence-of"
#: The plan hash and step id a copy was made for: how an attempt finds it again.
STEP_KEY = "reaper:evidence-step"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WAIT_SECONDS = 600
#: States of a copy that will never become usable.
_FAILED = frozenset({"error", "killed", "deleted", "pending_delete", "deactivated"})


def retention_until(retention: str, now: dt.datetime) -> str:
    seconds = int(retention[:-1]) * _UNITS[retention[-1]]
    until = now + dt.timedelta(seconds=seconds)
    return until.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def copy_name(step: StepKey) -> str:
    """The name of a step's copy: the same for every attempt and every execution."""
    digest = hashlib.sha256(f"{step.plan_hash}\0{step.step_id}".encode()).hexdigest()
    return f"reaper-evidence-{digest[:24]}"


def label(obj: Any, key: str) -> Any:
    """A label of a copy: Cinder keeps them in ``metadata``, Glance in ``properties``."""
    for section in ("metadata", "properties"):
        value = getattr(obj, section, None)
        if isinstance(value, Mapping) and key in value:
            return value[key]
    return None


def find_copy(candidates: Any, step: StepKey) -> Any | None:
    """The step's copy among ``candidates`` (listed by name), if there is one.

    Only a copy labelled with this very step counts: a name is not proof. A
    usable one is preferred; otherwise the oldest (the one an earlier
    attempt started).
    """
    mine = [c for c in candidates if label(c, STEP_KEY) == str(step)]
    if not mine:
        return None
    usable = [c for c in mine if (c.status or "").lower() not in _FAILED]
    return sorted(usable or mine, key=lambda c: (str(c.created_at or ""), c.id))[0]


class EvidenceSnapshot(Action):
    name = "evidence_snapshot"
    description = (
        "Copy a volume (clone) or a server (image) into reaper's project before it is "
        "deleted, or keep what a Swift container held (listing, object metadata) or a Heat "
        "stack was (template, outputs, events) as a document in reaper's own Swift account; "
        "labelled with its source and retention date; one copy per step."
    )
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "retention": {
                "type": "string",
                "pattern": r"^[0-9]+[smhdw]$",
                "description": "How long the evidence is kept, e.g. 90d.",
            },
            "evidence_project": {
                "type": "string",
                "minLength": 1,
                "description": "Project that receives server images.",
            },
        },
    }
    resource_types: ClassVar[frozenset[str]] = frozenset(
        {"compute.server", "block_storage.volume", *documents.COLLECTORS}
    )

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        if step is None:
            raise Fatal("an evidence copy is named after its step, and none was given")
        now = dt.datetime.now(dt.timezone.utc)
        labels = {
            SOURCE_KEY: f"{resource.type}:{resource.id}",
            RETENTION_KEY: retention_until(params.get("retention", "90d"), now),
            STEP_KEY: str(step),
        }
        if resource.type == "compute.server":
            return self._image(client, resource, params, step, labels)
        if resource.type in documents.COLLECTORS:
            until = dt.datetime.strptime(labels[RETENTION_KEY], "%Y-%m-%dT%H:%M:%SZ")
            until = until.replace(tzinfo=dt.timezone.utc)
            name = f"{copy_name(step)}.json"
            return documents.keep(client, resource, step, labels, until, name)
        return self._clone(client, resource, step, labels)

    @staticmethod
    def _image(
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey,
        labels: Mapping[str, str],
    ) -> Attempt:
        name = copy_name(step)
        image = find_copy(client.image.images(name=name, visibility="all"), step)
        if image is None:
            image = client.compute.create_server_image(resource.id, name, metadata=dict(labels))
        _refuse_failed(image, "image")
        image = client.image.wait_for_status(
            client.image.get_image(image.id), "active", failures=["killed"], wait=WAIT_SECONDS
        )
        owner = params.get("evidence_project")
        if owner and image.owner != owner:
            client.image.update_image(image, owner=owner)
        return Attempt(Result.DONE, f"image {image.id}")

    @staticmethod
    def _clone(
        client: Any, resource: Resource, step: StepKey, labels: Mapping[str, str]
    ) -> Attempt:
        name = copy_name(step)
        bs = client.block_storage
        clone = find_copy(bs.volumes(details=True, name=name), step)
        if clone is None:
            clone = bs.create_volume(
                name=name,
                size=resource.attributes.get("size") or 1,
                source_volume_id=resource.id,
                metadata=dict(labels),
            )
        _refuse_failed(clone, "volume")
        clone = bs.wait_for_status(clone, "available", failures=["error"], wait=WAIT_SECONDS)
        return Attempt(Result.DONE, f"volume {clone.id}")


def _refuse_failed(copy: Any, kind: str) -> None:
    status = (copy.status or "").lower()
    if status in _FAILED:
        raise Fatal(
            f"evidence {kind} {copy.id} of this step is in status {status}: inspect or "
            "remove it, then run the step again (no second copy is made while it exists)"
        )
