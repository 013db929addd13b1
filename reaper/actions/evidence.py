"""Evidence: copies taken before deletion, for incident response.

The copy is made with reaper's own (admin) credentials, so it belongs to
reaper's project, not to the deleted one: a later cleanup of the deleted
project never removes it, and a volume copy is an independent clone rather
than a snapshot, because a snapshot would keep its volume from being
deleted. Each copy carries ``reaper:evidence-of`` and its retention date.
With ``evidence_project``, an image copy is handed to that project
(Glance lets an admin change an image's owner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action
from reaper.executor import Attempt, Result
from reaper.model import Resource

RETENTION_KEY = "reaper:evidence-until"
SOURCE_KEY = "reaper:evidence-of"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WAIT_SECONDS = 600


def retention_until(retention: str, now: dt.datetime) -> str:
    seconds = int(retention[:-1]) * _UNITS[retention[-1]]
    until = now + dt.timedelta(seconds=seconds)
    return until.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EvidenceSnapshot(Action):
    name = "evidence_snapshot"
    description = (
        "Copy a volume (clone) or a server (image) into reaper's project before it is "
        "deleted, labelled with its source and retention date."
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
    resource_types: ClassVar[frozenset[str]] = frozenset({"compute.server", "block_storage.volume"})

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Attempt:
        now = dt.datetime.now(dt.timezone.utc)
        labels = {
            SOURCE_KEY: f"{resource.type}:{resource.id}",
            RETENTION_KEY: retention_until(params.get("retention", "90d"), now),
        }
        name = f"reaper-evidence-{resource.id}"
        if resource.type == "compute.server":
            image = client.compute.create_server_image(resource.id, name, metadata=labels)
            image = client.image.wait_for_status(
                client.image.get_image(image.id), "active", wait=WAIT_SECONDS
            )
            if params.get("evidence_project"):
                client.image.update_image(image, owner=params["evidence_project"])
            return Attempt(Result.DONE, f"image {image.id}")
        clone = client.block_storage.create_volume(
            name=name,
            size=resource.attributes.get("size") or 1,
            source_volume_id=resource.id,
            metadata=labels,
        )
        clone = client.block_storage.wait_for_status(clone, "available", wait=WAIT_SECONDS)
        return Attempt(Result.DONE, f"volume {clone.id}")
