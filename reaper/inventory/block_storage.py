"""Block storage: volumes, snapshots, backups, quotas."""

from __future__ import annotations

from openstack.block_storage.v3 import backup, snapshot, volume

from reaper.inventory.base import Finding, Handler, ResourceType, Scope
from reaper.model import IdentityKind

VOLUME = ResourceType.from_sdk(
    "block_storage.volume",
    volume.Volume,
    owned_by=frozenset({IdentityKind.PROJECT, IdentityKind.USER}),
    description="A Cinder volume.",
)
SNAPSHOT = ResourceType.from_sdk(
    "block_storage.snapshot",
    snapshot.Snapshot,
    owned_by=frozenset({IdentityKind.PROJECT, IdentityKind.USER}),
    description="A Cinder volume snapshot; it blocks its volume's deletion.",
)
BACKUP = ResourceType.from_sdk(
    "block_storage.backup",
    backup.Backup,
    owned_by=frozenset({IdentityKind.PROJECT, IdentityKind.USER}),
    description="A Cinder volume backup.",
)
QUOTA = ResourceType(
    "block_storage.quota",
    description="The project's Cinder quota set; releasing it restores the defaults.",
)


class BlockStorageInventory(Handler):
    service_type = "block-storage"
    types = (VOLUME, SNAPSHOT, BACKUP, QUOTA)

    def discover(self, conn, scope: Scope) -> Finding:  # type: ignore[no-untyped-def]
        raise NotImplementedError
