"""Evidence: copies taken before deletion, for incident response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action
from reaper.model import Resource

RETENTION_TAG_PREFIX = "reaper:evidence-until="


class EvidenceSnapshot(Action):
    name = "evidence_snapshot"
    description = (
        "Snapshot a volume (or image a server) before it is deleted, tagged with its "
        "retention date, optionally handed to an evidence project."
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
                "description": "Project that receives the evidence (volume transfer or "
                "image membership).",
            },
        },
    }
    resource_types: ClassVar[frozenset[str]] = frozenset({"compute.server", "block_storage.volume"})

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("evidence_snapshot lands with the executor")
