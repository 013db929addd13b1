"""Compute: servers, their volume attachments and groups, keypairs, quotas."""

from __future__ import annotations

from openstack.compute.v2 import keypair, server, server_group

from reaper.inventory.base import Finding, Handler, ResourceType, Scope
from reaper.model import IdentityKind

SERVER = ResourceType.from_sdk(
    "compute.server",
    server.Server,
    owned_by=frozenset({IdentityKind.PROJECT, IdentityKind.USER}),
    description="A Nova server (instance).",
)
VOLUME_ATTACHMENT = ResourceType(
    "compute.volume_attachment",
    fields=frozenset({"server_id", "volume_id", "device", "attachment_id", "tag"}),
    description="A volume attached to a server; detached through Nova.",
)
SERVER_GROUP = ResourceType.from_sdk(
    "compute.server_group",
    server_group.ServerGroup,
    description="A Nova server group (affinity policy).",
)
KEYPAIR = ResourceType.from_sdk(
    "compute.keypair",
    keypair.Keypair,
    owner_fields=("user_id",),
    owned_by=frozenset({IdentityKind.USER}),
    description="A Nova keypair; keypairs belong to users, not projects.",
)
QUOTA = ResourceType(
    "compute.quota",
    description="The project's Nova quota set; releasing it restores the defaults.",
)


class ComputeInventory(Handler):
    service_type = "compute"
    types = (SERVER, VOLUME_ATTACHMENT, SERVER_GROUP, KEYPAIR, QUOTA)

    def discover(self, conn, scope: Scope) -> Finding:  # type: ignore[no-untyped-def]
        raise NotImplementedError
