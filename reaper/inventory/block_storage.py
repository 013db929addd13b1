"""Block storage: volumes, snapshots, backups, quotas.

Cinder filters volumes, snapshots and backups by ``project_id`` for an admin
with ``all_tenants``. It has no reliable ``user_id`` filter (unknown filters
are dropped by its resource-filter configuration, which would return every
volume of the cloud), so a deleted user's volumes are found by listing all
and keeping the user's: the owner re-check does that, failing closed.
Attachments are Nova's business (see compute.py); a volume's ``attachments``
stay in its before-image.
"""

from __future__ import annotations

from typing import Any

from openstack.block_storage.v3 import backup, snapshot, volume

from reaper.inventory.base import (
    Collector,
    Finding,
    Handler,
    ResourceType,
    Scope,
    gather,
    learn_microversions,
    resource_from_sdk,
)
from reaper.inventory.compute import quota_resource
from reaper.model import Edge, IdentityKind, ResourceRef

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

    def discover(self, conn: Any, scope: Scope) -> Finding:
        bs = conn.block_storage
        learn_microversions(bs)
        calls: dict[str, Any] = {}
        for pid in sorted(scope.project_ids):
            calls[f"volumes:{pid}"] = lambda pid=pid: list(
                bs.volumes(details=True, all_projects=True, project_id=pid)
            )
            calls[f"snapshots:{pid}"] = lambda pid=pid: list(
                bs.snapshots(details=True, all_projects=True, project_id=pid)
            )
            calls[f"backups:{pid}"] = lambda pid=pid: list(
                bs.backups(details=True, all_projects=True, project_id=pid)
            )
        if scope.user_ids:
            calls["volumes:*"] = lambda: list(bs.volumes(details=True, all_projects=True))
            calls["snapshots:*"] = lambda: list(bs.snapshots(details=True, all_projects=True))
        listed = gather(calls)
        found = Collector("block_storage", scope)
        seen: set[tuple[str, str]] = set()
        for name, items in sorted(listed.items()):
            kind = name.split(":", 1)[0]
            for obj in items:
                if (kind, obj.id) in seen:
                    continue
                seen.add((kind, obj.id))
                if kind == "volumes":
                    edges = []
                    if obj.snapshot_id:
                        edges.append(
                            Edge("source_snapshot", ResourceRef(SNAPSHOT.name, obj.snapshot_id))
                        )
                    resource = resource_from_sdk(VOLUME, obj, edges=edges)
                    rtype = VOLUME
                elif kind == "snapshots":
                    resource = resource_from_sdk(
                        SNAPSHOT,
                        obj,
                        edges=[Edge("volume", ResourceRef(VOLUME.name, obj.volume_id))],
                    )
                    rtype = SNAPSHOT
                else:
                    resource = resource_from_sdk(BACKUP, obj)
                    rtype = BACKUP
                if name.endswith(":*") and not _of_users(resource, scope):
                    continue  # listed cloud-wide for a user: not a mismatch, just not theirs
                found.add(rtype, resource)
        if scope.identity.kind is not IdentityKind.USER:
            for pid in sorted(scope.project_ids):
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()


def _of_users(resource: Any, scope: Scope) -> bool:
    return resource.user_id in scope.user_ids
