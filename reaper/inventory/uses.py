"""The by-resource listings that find who uses a resource: one finder per kind of use.

Each finder gets the resources to look at and yields ``(ref, Use)`` for every
use it finds, *whoever* the user is (the deleted owner's own ports too):
:mod:`reaper.inventory.liveuse` sorts them into the owner's own uses, live
projects' and deleted projects'. Every listing is an admin listing filtered
by the resource (the network, the group, the pool, the image), never a
listing per project, so its cost follows the deleted owner's size, not the
cloud's.

What each finder knows, as the services showed it on the testbed:

* Neutron refuses (409 ``RbacPolicyInUse``) to revoke an RBAC entry whose
  target uses the object (a port on the network, a port in the group, a
  subnet from the pool, a pool in the address scope), and refuses to delete
  the object while others use it (``NetworkInUse``, ``SubnetInUse``,
  ``SecurityGroupInUse``, ``AddressScopeInUse``; 400
  ``SubnetPoolDeleteError`` for a pool with allocations);
* it does *not* refuse to delete a group another project's rule names as
  remote group: it deletes that rule with it, silently;
* Glance deletes an image a server was booted from (a file store has no
  notion of use), Cinder refuses (400) a volume that is attached or awaits a
  transfer, with one message for every such reason;
* a pending volume transfer names no recipient until it is accepted:
  whoever holds its key can take the volume, so it counts as a use by a
  project that is not known (failing closed).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from reaper.inventory.base import Scope
from reaper.model import Resource, ResourceRef

#: RBAC object types whose grants make the object used by the target project.
RBAC_OBJECTS = {
    "network": "network.network",
    "security_group": "network.security_group",
    "qos_policy": "network.qos_policy",
    "address_scope": "network.address_scope",
    "subnetpool": "network.subnet_pool",
}
#: A user id for "could not tell": fail closed.
UNKNOWN = "unknown"
#: The Cinder volume status of a volume with a pending transfer.
AWAITING_TRANSFER = "awaiting-transfer"


@dataclass(frozen=True, order=True)
class Use:
    """``project_id`` uses the resource through its ``type``:``id`` (a port, a rule...)."""

    project_id: str
    type: str
    id: str
    detail: str = ""
    #: ``use`` or ``grant`` (see :mod:`reaper.inventory.liveuse`).
    kind: str = "use"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


Found = Iterable[tuple[ResourceRef, Use]]
#: One question to the cloud (a listing, a GET, or a few that depend on one another),
#: independent of every other: its uses, read to the end on a worker thread.
Lookup = Callable[[], list[tuple[ResourceRef, Use]]]
#: The lookups that find the uses of the resources of the finder's types: building them
#: sends nothing (the requests go when :mod:`reaper.inventory.liveuse` runs them, together).
Finder = Callable[[Any, Scope, Sequence[Resource]], list[Lookup]]


def of(resources: Sequence[Resource], rtype: str) -> list[Resource]:
    return [r for r in resources if r.type == rtype]


def _lookup(gen: Callable[..., Found], *args: Any) -> Lookup:
    """A lookup that reads ``gen(*args)`` to its end when it runs."""
    return lambda: list(gen(*args))


def rbac_objects(resources: Sequence[Resource], scope: Scope) -> list[Resource]:
    """The objects the owner's RBAC entries grant, that are not among ``resources``.

    The entry of an object may be looked at without the object (a refused
    revocation is re-examined alone), and a QoS policy is not discovered
    where Neutron has no QoS: the object's users are still listed (they
    make the entry in use). Entries others own (granting to the owner) are
    left out: the owner's use of their objects is no live use.
    """
    known = {r.ref for r in resources}
    extra: dict[ResourceRef, Resource] = {}
    for r in of(resources, "network.rbac_policy"):
        if r.attributes.get("project_id") not in scope.project_ids:
            continue
        obj_type = RBAC_OBJECTS.get(str(r.attributes.get("object_type")))
        ref = ResourceRef(obj_type, str(r.attributes.get("object_id"))) if obj_type else None
        if ref is None or ref in known or ref in extra:
            continue
        owner = r.attributes.get("project_id") or r.project_id
        extra[ref] = Resource(ref.type, ref.id, project_id=owner, attributes={"project_id": owner})
    return list(extra.values())


def rbac_grants(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """The owner's RBAC entries granting to a named other project (no request: in hand)."""
    return [_lookup(_grants, scope, resources)]


def _grants(scope: Scope, resources: Sequence[Resource]) -> Found:
    """Each entry granting to a named project: a grant of the entry and of its object."""
    for r in of(resources, "network.rbac_policy"):
        attrs = r.attributes
        target = attrs.get("target_project_id")
        if attrs.get("project_id") not in scope.project_ids or target in (None, "*"):
            continue
        action = attrs.get("action", "access")
        detail = f"{action} granted by RBAC entry {r.id}"
        use = Use(target, "network.rbac_policy", r.id, detail, kind="grant")
        yield r.ref, use
        obj_type = RBAC_OBJECTS.get(str(attrs.get("object_type")))
        if obj_type:
            yield ResourceRef(obj_type, str(attrs.get("object_id"))), use


def network_ports(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Ports on the owner's networks and subnets (servers, router interfaces, gateways)."""
    subnets_of: dict[str, list[Resource]] = defaultdict(list)
    for s in of(resources, "network.subnet"):
        subnets_of[str(s.attributes.get("network_id"))].append(s)
    networks = {r.id for r in of(resources, "network.network")} | set(subnets_of)
    return [
        _lookup(_ports_on, conn, nid, tuple(subnets_of.get(nid, ()))) for nid in sorted(networks)
    ]


def _ports_on(conn: Any, nid: str, subnets: Sequence[Resource]) -> Found:
    """The uses of one network (and of its subnets among the owner's) by its ports.

    A gateway port names no project: its router's (one more read, after the listing).
    """
    router_owner: dict[str, str] = {}
    for prt in conn.network.ports(network_id=nid):
        owner = prt.device_owner or ""
        project = prt.project_id or ""
        if owner == "network:router_gateway" and not project and prt.device_id:
            if prt.device_id not in router_owner:
                router_owner[prt.device_id] = conn.network.get_router(prt.device_id).project_id
            project = router_owner[prt.device_id]
        if not project or owner == "network:dhcp":
            continue
        use = Use(project, "network.port", prt.id, port_detail(prt))
        yield ResourceRef("network.network", nid), use
        on = {ip.get("subnet_id") for ip in prt.fixed_ips or ()}
        for s in subnets:
            if s.id in on:
                yield s.ref, use


def port_detail(prt: Any) -> str:
    owner = prt.device_owner or ""
    if owner.startswith("compute:") and prt.device_id:
        return f"port {prt.id} on server {prt.device_id}"
    if owner == "network:router_gateway":
        return f"gateway port {prt.id} of router {prt.device_id}"
    if owner.startswith("network:router_interface"):
        return f"interface port {prt.id} of router {prt.device_id}"
    return f"port {prt.id}" + (f" ({owner})" if owner else "")


def group_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Rules whose remote group is one of the owner's groups, and ports in the group."""
    lookups: list[Lookup] = []
    for g in of(resources, "network.security_group"):
        lookups += [_lookup(_remote_rules, conn, g), _lookup(_group_ports, conn, g)]
    return lookups


def _remote_rules(conn: Any, g: Resource) -> Found:
    for rule in conn.network.security_group_rules(remote_group_id=g.id):
        group = rule.security_group_id
        detail = f"rule {rule.id} of security group {group} names it as remote group"
        yield g.ref, Use(rule.project_id or "", "network.security_group_rule", rule.id, detail)


def _group_ports(conn: Any, g: Resource) -> Found:
    for prt in conn.network.ports(security_group_ids=[g.id]):
        if prt.project_id and g.id in (prt.security_group_ids or ()):
            detail = f"{port_detail(prt)} is in the group"
            yield g.ref, Use(prt.project_id, "network.port", prt.id, detail)


def qos_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Networks and ports with one of the owner's QoS policies."""
    lookups: list[Lookup] = []
    for q in of(resources, "network.qos_policy"):
        lookups += [_lookup(_qos_networks, conn, q), _lookup(_qos_ports, conn, q)]
    return lookups


def _qos_networks(conn: Any, q: Resource) -> Found:
    for nwk in conn.network.networks(qos_policy_id=q.id):
        if nwk.qos_policy_id != q.id:
            continue  # a Neutron that ignores the filter lists every network
        detail = f"network {nwk.id} has the QoS policy"
        yield q.ref, Use(nwk.project_id or "", "network.network", nwk.id, detail)


def _qos_ports(conn: Any, q: Resource) -> Found:
    for prt in conn.network.ports(qos_policy_id=q.id):
        if prt.qos_policy_id != q.id:
            continue
        detail = f"{port_detail(prt)} has the QoS policy"
        yield q.ref, Use(prt.project_id or "", "network.port", prt.id, detail)


def pool_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Subnets allocated from the owner's subnet pools."""
    return [_lookup(_pool_subnets, conn, p) for p in of(resources, "network.subnet_pool")]


def _pool_subnets(conn: Any, p: Resource) -> Found:
    for sub in conn.network.subnets(subnet_pool_id=p.id):
        if sub.subnet_pool_id != p.id:
            continue
        detail = f"subnet {sub.id} of network {sub.network_id} is allocated from the pool"
        yield p.ref, Use(sub.project_id or "", "network.subnet", sub.id, detail)


def scope_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Subnet pools in the owner's address scopes."""
    return [_lookup(_scope_pools, conn, a) for a in of(resources, "network.address_scope")]


def _scope_pools(conn: Any, a: Resource) -> Found:
    for pool in conn.network.subnet_pools(address_scope_id=a.id):
        if pool.address_scope_id != a.id:
            continue
        detail = f"subnet pool {pool.id} is in the address scope"
        yield a.ref, Use(pool.project_id or "", "network.subnet_pool", pool.id, detail)


def image_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Accepted members of the owner's shared images, and servers booted from them."""
    lookups: list[Lookup] = []
    for img in of(resources, "image.image"):
        if img.attributes.get("visibility") == "shared":
            lookups.append(_lookup(_members, conn, img))
        lookups.append(_lookup(_booted, conn, img))
    return lookups


def _members(conn: Any, img: Resource) -> Found:
    for mem in conn.image.members(img.id):
        if mem.status == "accepted":
            detail = f"accepted member of image {img.id}"
            yield img.ref, Use(mem.member_id, "image.member", mem.member_id, detail, kind="grant")


def _booted(conn: Any, img: Resource) -> Found:
    for srv in conn.compute.servers(all_projects=True, image=img.id):
        yield img.ref, Use(srv.project_id, "compute.server", srv.id, f"server {srv.id}")


def volume_servers(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Servers the owner's volumes are attached to (multi-attach: another project's too).

    A server among ``resources`` (discovery just listed it) is not asked
    for again: its project is in hand. Any other is read once, however many
    of the volumes are attached to it. An attachment to a server Nova no
    longer has is no use (Cinder forgets it a little later): nobody uses the
    volume through it.
    """
    known = {r.id: r.project_id for r in of(resources, "compute.server") if r.project_id}
    attached: dict[str, list[Resource]] = defaultdict(list)
    for vol in of(resources, "block_storage.volume"):
        for att in vol.attributes.get("attachments") or ():
            server_id = att.get("server_id")
            if server_id and vol not in attached[server_id]:
                attached[server_id].append(vol)
    in_hand = {sid: vols for sid, vols in attached.items() if sid in known}
    lookups = [_lookup(_attached_known, known, in_hand)] if in_hand else []
    lookups += [
        _lookup(_attached_to, conn, sid, tuple(vols))
        for sid, vols in sorted(attached.items())
        if sid not in known
    ]
    return lookups


def _attached_known(known: Mapping[str, str], attached: Mapping[str, list[Resource]]) -> Found:
    for sid, vols in sorted(attached.items()):
        for vol in vols:
            yield vol.ref, Use(known[sid], "compute.server", sid, f"attached to server {sid}")


def _attached_to(conn: Any, server_id: str, vols: Sequence[Resource]) -> Found:
    from openstack import exceptions  # the SDK is already loaded by then

    try:
        srv = conn.compute.get_server(server_id)
    except exceptions.NotFoundException:
        return
    use = Use(srv.project_id, "compute.server", server_id, f"attached to server {server_id}")
    for vol in vols:
        yield vol.ref, use


def volume_transfers(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Pending transfers of the owner's volumes: whoever accepts one takes the volume.

    Listed only when a volume awaits a transfer (its status says so), once
    for all of them. openstacksdk drops ``all_tenants`` from a transfer
    listing, so the request names it itself.
    """
    waiting = {v.id: v for v in of(resources, "block_storage.volume") if _awaits_transfer(v)}
    return [_lookup(_transfers, conn, waiting)] if waiting else []


def _transfers(conn: Any, waiting: Mapping[str, Resource]) -> Found:
    answer = conn.block_storage.get(
        "/volume-transfers/detail?all_tenants=True", microversion="3.55"
    )
    answer.raise_for_status()
    for transfer in answer.json().get("transfers") or ():
        vol = waiting.get(transfer.get("volume_id"))
        if vol is not None:
            detail = (
                f"pending transfer {transfer.get('id')}: whoever accepts it takes the volume "
                "(the project is known only then)"
            )
            yield vol.ref, Use(UNKNOWN, "block_storage.transfer", str(transfer.get("id")), detail)


def _awaits_transfer(volume: Resource) -> bool:
    status = volume.attributes.get("status") or volume.status
    return str(status or "").lower() == AWAITING_TRANSFER


def floating_ports(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Ports the owner's floating IPs are associated with.

    A port among ``resources`` (discovery just listed it) is not asked for
    again; any other is read, one GET per port.
    """
    ports = {r.id: r for r in of(resources, "network.port")}
    lookups: list[Lookup] = []
    for fip in of(resources, "network.floating_ip"):
        port_id = fip.attributes.get("port_id")
        if port_id in ports:
            lookups.append(_lookup(_port_in_hand, fip, ports[port_id]))
        elif port_id:
            lookups.append(_lookup(_port_of, conn, fip, port_id))
    return lookups


def _port_in_hand(fip: Resource, prt: Resource) -> Found:
    seen = SimpleNamespace(
        id=prt.id,
        project_id=prt.project_id,
        device_owner=prt.attributes.get("device_owner"),
        device_id=prt.attributes.get("device_id"),
    )
    if seen.project_id:
        yield fip.ref, Use(seen.project_id, "network.port", seen.id, port_detail(seen))


def _port_of(conn: Any, fip: Resource, port_id: str) -> Found:
    prt = conn.network.get_port(port_id)
    if prt.project_id:
        yield fip.ref, Use(prt.project_id, "network.port", prt.id, port_detail(prt))


#: Each finder, by name, and the resource types whose users it lists (a failed
#: finder leaves those types in use: fail closed).
FINDERS: tuple[tuple[str, Finder, frozenset[str]], ...] = (
    ("rbac", rbac_grants, frozenset({"network.rbac_policy"})),
    ("networks", network_ports, frozenset({"network.network", "network.subnet"})),
    ("security groups", group_users, frozenset({"network.security_group"})),
    ("QoS policies", qos_users, frozenset({"network.qos_policy"})),
    ("subnet pools", pool_users, frozenset({"network.subnet_pool"})),
    ("address scopes", scope_users, frozenset({"network.address_scope"})),
    ("images", image_users, frozenset({"image.image"})),
    ("volumes", volume_servers, frozenset({"block_storage.volume"})),
    ("volume transfers", volume_transfers, frozenset({"block_storage.volume"})),
    ("floating IPs", floating_ports, frozenset({"network.floating_ip"})),
)
FINDER_TYPES: Mapping[str, frozenset[str]] = {name: types for name, _, types in FINDERS}
#: The types whose users can be looked up (a refused removal of one is re-examined).
LOOKED_UP: frozenset[str] = frozenset().union(*FINDER_TYPES.values())
