"""Actions that contain a server without destroying it: stop, lock, tag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action
from reaper.model import Resource

SERVER = frozenset({"compute.server"})


class Stop(Action):
    name = "stop"
    description = "Power the server off; its disks and addresses stay."
    resource_types: ClassVar[frozenset[str]] = SERVER

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("stop lands with the executor")


class Lock(Action):
    name = "lock"
    description = "Admin-lock the server so its (former) users cannot act on it."
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 255}},
    }
    resource_types: ClassVar[frozenset[str]] = SERVER

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("lock lands with the executor")


class Tag(Action):
    name = "tag"
    description = "Add tags to the resource (metadata keys on Cinder resources)."
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["tags"],
        "properties": {
            "tags": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1, "maxLength": 60},
            }
        },
    }
    resource_types: ClassVar[frozenset[str]] = frozenset(
        {
            "compute.server",
            "block_storage.volume",
            "block_storage.snapshot",
            "network.floating_ip",
            "network.port",
            "network.router",
            "network.subnet",
            "network.network",
            "network.security_group",
            "image.image",
        }
    )

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("tag lands with the executor")
