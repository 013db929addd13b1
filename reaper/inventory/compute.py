"""Compute: servers, their volume attachments and groups, keypairs, quotas.

Servers are listed with ``all_tenants`` and an explicit ``project_id`` (or
``user_id`` for a deleted user); volume attachments come from each server's
``os-extended-volumes:volumes_attached`` (no extra request), because a
volume is detached through Nova, not Cinder. Each carries
``delete_on_termination`` (Nova deletes such a volume with its server) and
``is_root_volume``: never for a server booted from an image; for one booted
from a volume, the attachment whose device is the server's root device, as
Nova's attachment list says (one request per such server). Whatever Nova does
not say stays ``None``, which the planner takes at its worst. Server groups have no owner
filter in the API, so they are listed cloud-wide, by offset to the last page
(server_groups.py), one read serving the discoveries of every project gone
before it began (cloudwide.py), and re-checked locally. Keypairs
belong to users: read at a pinned microversion, each one's owner confirmed
by Nova itself (see keypairs.py). Nova answers 400 to a quota GET for a
project Keystone no longer knows, so the quota set is planned without
reading it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openstack.compute.v2 import keypair, server, server_group

from reaper.inventory import keypairs, placement
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
from reaper.inventory.server_groups import cloud_groups
from reaper.model import Edge, IdentityKind, Resource, ResourceRef

SERVER = ResourceType.from_sdk(
    "compute.server",
    server.Server,
    owned_by=frozenset({IdentityKind.PROJECT, IdentityKind.USER}),
    description="A Nova server (instance).",
)
VOLUME_ATTACHMENT = ResourceType(
    "compute.volume_attachment",
    fields=frozenset(
        {"server_id", "volume_id", "delete_on_termination", "device", "is_root_volume"}
    ),
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
    types = (SERVER, VOLUME_ATTACHMENT, SERVER_GROUP, KEYPAIR, QUOTA, placement.ALLOCATION)
    listings = 3

    def discover(self, conn: Any, scope: Scope) -> Finding:
        compute = conn.compute
        learn_microversions(compute)
        calls: dict[str, Any] = {}
        for pid in sorted(scope.project_ids):
            calls[f"servers:{pid}"] = lambda pid=pid: list(
                compute.servers(details=True, all_projects=True, project_id=pid)
            )
        for uid in sorted(scope.user_ids):
            calls[f"servers-of-user:{uid}"] = lambda uid=uid: list(
                compute.servers(details=True, all_projects=True, user_id=uid)
            )
            calls[f"keypairs:{uid}"] = lambda uid=uid: [keypairs.owned_by(compute, uid)]
        if scope.project_ids:
            calls["server_groups"] = lambda: cloud_groups(compute, gone_by=scope.gone_by)
        measured = scope.identity.kind is not IdentityKind.USER and placement.in_catalog(conn)
        for pid in sorted(scope.project_ids) if measured else ():
            # Beside the servers, not after them: one round trip less (placement.py).
            calls[f"placement-usages:{pid}"] = lambda pid=pid: [placement.project_usages(conn, pid)]
        listed = gather(calls)
        found = Collector("compute", scope)
        servers: dict[str, Any] = {}
        for name, items in listed.items():
            if name.startswith("servers"):
                for srv in items:
                    servers.setdefault(srv.id, srv)
        devices = gather(
            {
                srv.id: lambda srv=srv: [
                    (a.volume_id, a.device) for a in compute.volume_attachments(srv.id)
                ]
                for srv in servers.values()
                if srv.attached_volumes and not _booted_from_image(srv)
            }
        )
        groups = listed.get("server_groups", [])
        group_of: dict[str, str] = {}
        for group in groups:
            for member in group.member_ids or ():
                group_of[member] = group.id
        for srv in servers.values():
            self._add_server(found, srv, group_of.get(srv.id), dict(devices.get(srv.id, ())))
        for group in groups:
            found_group = resource_from_sdk(SERVER_GROUP, group)
            if found_group.project_id in scope.project_ids:
                found.add(SERVER_GROUP, found_group)
        for name, items in sorted(listed.items()):
            if name.startswith("keypairs:"):
                ((confirmed, errors),) = items
                found.errors.extend(errors)
                for attrs in confirmed:
                    # The owner is the one Nova named for this keypair, never the one asked.
                    owner = attrs.get("user_id")
                    found.add(
                        KEYPAIR,
                        Resource(
                            type=KEYPAIR.name,
                            id=f"{owner}:{attrs['name']}",
                            name=attrs["name"],
                            user_id=owner,
                            attributes=attrs,
                        ),
                    )
        if scope.identity.kind is not IdentityKind.USER:
            for pid in sorted(scope.project_ids):
                found.add(QUOTA, quota_resource(QUOTA, pid))
            if measured:
                usages = {pid: listed[f"placement-usages:{pid}"][0] for pid in scope.project_ids}
                self._add_orphaned_allocations(conn, scope, servers.values(), found, usages)
        return found.finding()

    @staticmethod
    def _add_orphaned_allocations(
        conn: Any,
        scope: Scope,
        servers: Iterable[Any],
        found: Collector,
        usages: Mapping[str, Mapping[str, float] | Exception],
    ) -> None:
        for pid in sorted(scope.project_ids):
            mine = [s for s in servers if s.project_id == pid]
            orphaned, errors = placement.orphans(conn, pid, mine, usages[pid])
            found.errors.extend(errors)
            for resource in orphaned:
                found.add(placement.ALLOCATION, resource)

    @staticmethod
    def _add_server(
        found: Collector, srv: Any, group_id: str | None, devices: dict[str, str]
    ) -> None:
        edges = []
        if group_id:
            edges.append(Edge("server_group", ResourceRef(SERVER_GROUP.name, group_id)))
        if not found.add(SERVER, resource_from_sdk(SERVER, srv, edges=edges)):
            return  # dropped by the owner check: so are its attachments
        for volume in srv.attached_volumes or ():
            volume_id = volume.get("id")
            if not volume_id:
                continue
            device = devices.get(volume_id)
            found.add(
                VOLUME_ATTACHMENT,
                Resource(
                    type=VOLUME_ATTACHMENT.name,
                    id=f"{srv.id}:{volume_id}",
                    project_id=srv.project_id,
                    user_id=srv.user_id,
                    attributes={
                        "server_id": srv.id,
                        "volume_id": volume_id,
                        "delete_on_termination": volume.get("delete_on_termination"),
                        "device": device,
                        "is_root_volume": _is_root(srv, device),
                        "project_id": srv.project_id,
                        "user_id": srv.user_id,
                    },
                    edges=(
                        Edge("server", ResourceRef(SERVER.name, srv.id)),
                        Edge("volume", ResourceRef("block_storage.volume", volume_id)),
                    ),
                ),
            )


def _booted_from_image(srv: Any) -> bool:
    """Whether Nova says the server runs from an image (its root disk is then no volume)."""
    image = srv.image
    return bool(image.get("id") if isinstance(image, dict) else getattr(image, "id", None))


def _is_root(srv: Any, device: str | None) -> bool | None:
    """Whether an attachment is the server's root volume; None when Nova does not say."""
    if _booted_from_image(srv):
        return False
    if not device or not srv.root_device_name:
        return None
    return device == srv.root_device_name


def quota_resource(rtype: ResourceType, project_id: str) -> Resource:
    """A project's quota set, named by the project (quotas have no id of their own)."""
    return Resource(
        type=rtype.name,
        id=project_id,
        name=f"quotas of {project_id}",
        project_id=project_id,
        attributes={"project_id": project_id},
    )
