"""What a project still owns in the cloud: the one helper every test, benchmark and the demo use.

Listed as an admin, by kind (id -> status, or name). Listing security groups
makes Neutron re-create the project's ``default`` group, so it is reported
apart and is never a leftover by itself; ports Neutron made for a floating
IP or a router gateway go with those and are not counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openstack.connection import Connection


def holdings(admin: Connection, project_id: str) -> dict[str, dict[str, str]]:
    """Every resource the project owns, by kind: id -> status (or name).

    Listing security groups makes Neutron re-create the project's
    ``default`` group, so it is reported apart (``default_security_group``)
    and is not a leftover by itself.
    """
    pid = project_id
    net, bs, compute = admin.network, admin.block_storage, admin.compute
    groups = {g.id: g.name for g in net.security_groups(project_id=pid)}
    return {
        "servers": {
            s.id: s.status for s in compute.servers(details=True, all_projects=True, project_id=pid)
        },
        "volumes": {
            v.id: v.status for v in bs.volumes(details=True, all_projects=True, project_id=pid)
        },
        "snapshots": {
            s.id: s.status for s in bs.snapshots(details=True, all_projects=True, project_id=pid)
        },
        "floating_ips": {f.id: f.status for f in net.ips(project_id=pid)},
        "ports": {
            p.id: p.status
            for p in net.ports(project_id=pid)
            if p.device_owner not in ("network:floatingip", "network:router_gateway")
        },
        "routers": {r.id: r.status for r in net.routers(project_id=pid)},
        "subnets": {s.id: s.name for s in net.subnets(project_id=pid)},
        "networks": {n.id: n.status for n in net.networks(project_id=pid)},
        "security_groups": {i: n for i, n in groups.items() if n != "default"},
        "images": {i.id: i.status for i in admin.image.images(owner=pid, visibility="all")},
        "default_security_group": {i: n for i, n in groups.items() if n == "default"},
    }


def leftovers(admin: Connection, project_id: str) -> dict[str, dict[str, str]]:
    """What remains of a reaped project: empty kinds left out, ``default`` group ignored."""
    held = holdings(admin, project_id)
    held.pop("default_security_group")
    return {kind: items for kind, items in held.items() if items}


def owned_ids(admin: Connection, project_id: str) -> dict[str, list[str]]:
    """:func:`leftovers` as sorted ids per kind: what is left, whatever its status."""
    return {kind: sorted(items) for kind, items in leftovers(admin, project_id).items()}
