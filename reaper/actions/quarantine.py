"""Quarantine: keep everything as evidence, but make it harmless."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action
from reaper.model import Resource

QUARANTINE_TAG = "reaper:quarantined"


class Quarantine(Action):
    name = "quarantine"
    description = (
        f"Stop and admin-lock the server, disassociate its floating IPs and tag it "
        f"{QUARANTINE_TAG}; disks and volumes are left untouched."
    )
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 255}},
    }
    resource_types: ClassVar[frozenset[str]] = frozenset({"compute.server"})

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("quarantine lands with the executor")
