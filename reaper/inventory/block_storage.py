"""Block storage: volumes, snapshots, backups, quotas.

Cinder filters volumes, snapshots and backups by ``project_id`` for an admin
with ``all_tenants``. A deleted user's volumes and snapshots are listed with
``user_id`` and ``all_tenants``: Cinder lets an admin filter on any column
of the model (``reject_invalid_filters`` and ``remove_invalid_filter_options``
return early for an admin context, and ``volumes.user_id`` and
``snapshots.user_id`` are columns, checked on cinder 29), so the listing
costs the user's volumes, not the cloud's. openstacksdk's snapshot query
has no ``user_id``, so the request names it itself (:class:`_UserSnapshot`).

The owner re-check still runs on every object returned (fail closed): a
Cinder that dropped the filter (a non-admin context, an older release)
returns every volume of the cloud, of which the user's are kept, and a
warning says what that scan cost.
Attachments are Nova's business (see compute.py); a volume's ``attachments``
stay in its before-image.
"""

from __future__ import annotations

from typing import Any

from openstack import resource as sdk_resource
from openstack.block_storage.v3 import backup, snapshot, volume

from reaper import log
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
LOG = log.get(__name__)
#: What ``snapshots(details=True)`` lists: the same for the user's listing.
SNAPSHOTS = "/snapshots/detail"


class _UserSnapshot(snapshot.Snapshot):
    """openstacksdk's snapshot, whose listing may also filter on ``user_id``."""

    _query_mapping = sdk_resource.QueryParameters(
        **{**snapshot.Snapshot._query_mapping._mapping, "user_id": "user_id"}
    )


QUOTA = ResourceType(
    "block_storage.quota",
    description="The project's Cinder quota set; releasing it restores the defaults.",
)


class BlockStorageInventory(Handler):
    service_type = "block-storage"
    types = (VOLUME, SNAPSHOT, BACKUP, QUOTA)
    listings = 3

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
        for uid in sorted(scope.user_ids):
            calls[f"volumes:user:{uid}"] = lambda uid=uid: list(
                bs.volumes(details=True, all_projects=True, user_id=uid)
            )
            calls[f"snapshots:user:{uid}"] = lambda uid=uid: list(
                bs._list(_UserSnapshot, base_path=SNAPSHOTS, all_projects=True, user_id=uid)
            )
        listed = gather(calls)
        _warn_unfiltered(listed, scope)
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
                if ":user:" in name and not _of_users(resource, scope):
                    continue  # a filter Cinder dropped: not a mismatch, just not theirs
                found.add(rtype, resource)
        if scope.identity.kind is not IdentityKind.USER:
            for pid in sorted(scope.project_ids):
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()


def _of_users(resource: Any, scope: Scope) -> bool:
    return resource.user_id in scope.user_ids


def _warn_unfiltered(listed: dict[str, list[Any]], scope: Scope) -> None:
    """Say so when Cinder ignored a ``user_id`` filter: that listing scanned the cloud.

    Nothing is lost (the owner re-check keeps the user's objects alone), but
    the scan costs every volume of the cloud at each user deletion.
    """
    for name, items in sorted(listed.items()):
        if ":user:" not in name:
            continue
        others = sum(1 for obj in items if obj.user_id not in scope.user_ids)
        if others:
            LOG.warning(
                "Cinder ignored the user_id filter: the user's objects were found by "
                "scanning every one of the cloud (its cost grows with the cloud)",
                listing=name.split(":", 1)[0],
                listed=len(items),
                of_others=others,
            )
