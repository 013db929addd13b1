"""Deletion of every discovered type, the way each service needs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action
from reaper.model import Resource

DELETABLE = frozenset(
    {
        "compute.server",
        "compute.volume_attachment",
        "compute.server_group",
        "compute.keypair",
        "compute.quota",
        "block_storage.volume",
        "block_storage.snapshot",
        "block_storage.backup",
        "block_storage.quota",
        "network.floating_ip",
        "network.port",
        "network.router",
        "network.router_interface",
        "network.subnet",
        "network.network",
        "network.security_group",
        "network.rbac_policy",
        "network.quota",
        "image.image",
        "image.member",
    }
)


class Delete(Action):
    name = "delete"
    description = (
        "Remove the resource: detach through Nova, remove router interfaces, release "
        "quotas (back to defaults), revoke image memberships and RBAC entries."
    )
    resource_types: ClassVar[frozenset[str]] = DELETABLE
    removes = True

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("delete lands with the executor")
