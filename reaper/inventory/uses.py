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

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from reaper.inventory.base import Scope
from reaper.inventory.use import Finder, Found, Lookup, Use, lookup, of
from reaper.inventory.volume_uses import volume_servers, volume_transfers
from reaper.model import Resource, ResourceRef

#: RBAC object types whose grants make the object used by the target project.
RBAC_OBJECTS = {
    "network": "network.network",
    "security_group": "network.security_group",
    "qos_policy": "network.qos_policy",
    "address_scope": "network.address_scope",
    "subnetpool": "network.subnet_pool",
}


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
    return [lookup(_grants, scope, resources)]


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


#: Ids named in one listing's filter. Neutron answers a filter given several values with
#: what matches any of them, so the users of many networks (or groups) cost one request,
#: not one each; a few dozen ids keep the query string well below what proxies refuse.
IDS_PER_LISTING = 40


def _batches(ids: Iterable[str]) -> list[tuple[str, ...]]:
    ordered = sorted(set(ids))
    return [
        tuple(ordered[i : i + IDS_PER_LISTING]) for i in range(0, len(ordered), IDS_PER_LISTING)
    ]


def network_ports(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Ports on the owner's networks and subnets (servers, router interfaces, gateways)."""
    subnets_of: dict[str, list[Resource]] = defaultdict(list)
    for s in of(resources, "network.subnet"):
        subnets_of[str(s.attributes.get("network_id"))].append(s)
    networks = {r.id for r in of(resources, "network.network")} | set(subnets_of)
    return [
        lookup(_ports_on, conn, {nid: tuple(subnets_of.get(nid, ())) for nid in batch})
        for batch in _batches(networks)
    ]


def _ports_on(conn: Any, subnets_of: Mapping[str, Sequence[Resource]]) -> Found:
    """The uses of some networks (and of their subnets among the owner's) by their ports.

    One listing for all of them; each port is the use of the network it names (a
    Neutron that ignored the filter would list others: they are nobody's use here).
    A gateway port names no project: its router's (one more read, after the listing).
    """
    router_owner: dict[str, str] = {}
    for prt in conn.network.ports(network_id=sorted(subnets_of)):
        nid = prt.network_id
        if nid not in subnets_of:
            continue
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
        for s in subnets_of[nid]:
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
    """Rules whose remote group is one of the owner's groups, and ports in the groups."""
    lookups: list[Lookup] = []
    for batch in _batches(g.id for g in of(resources, "network.security_group")):
        lookups += [lookup(_remote_rules, conn, batch), lookup(_group_ports, conn, batch)]
    return lookups


def _remote_rules(conn: Any, groups: Sequence[str]) -> Found:
    for rule in conn.network.security_group_rules(remote_group_id=list(groups)):
        remote = rule.remote_group_id
        if remote not in groups:
            continue  # a Neutron that ignores the filter lists every rule
        group = rule.security_group_id
        detail = f"rule {rule.id} of security group {group} names it as remote group"
        ref = ResourceRef("network.security_group", remote)
        yield ref, Use(rule.project_id or "", "network.security_group_rule", rule.id, detail)


def _group_ports(conn: Any, groups: Sequence[str]) -> Found:
    for prt in conn.network.ports(security_group_ids=list(groups)):
        if not prt.project_id:
            continue
        for gid in groups:
            if gid in (prt.security_group_ids or ()):
                detail = f"{port_detail(prt)} is in the group"
                ref = ResourceRef("network.security_group", gid)
                yield ref, Use(prt.project_id, "network.port", prt.id, detail)


def qos_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Networks and ports with one of the owner's QoS policies."""
    lookups: list[Lookup] = []
    for q in of(resources, "network.qos_policy"):
        lookups += [lookup(_qos_networks, conn, q), lookup(_qos_ports, conn, q)]
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
    return [lookup(_pool_subnets, conn, p) for p in of(resources, "network.subnet_pool")]


def _pool_subnets(conn: Any, p: Resource) -> Found:
    for sub in conn.network.subnets(subnet_pool_id=p.id):
        if sub.subnet_pool_id != p.id:
            continue
        detail = f"subnet {sub.id} of network {sub.network_id} is allocated from the pool"
        yield p.ref, Use(sub.project_id or "", "network.subnet", sub.id, detail)


def scope_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Subnet pools in the owner's address scopes."""
    return [lookup(_scope_pools, conn, a) for a in of(resources, "network.address_scope")]


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
            lookups.append(lookup(_members, conn, img))
        lookups.append(lookup(_booted, conn, img))
    return lookups


def _members(conn: Any, img: Resource) -> Found:
    for mem in conn.image.members(img.id):
        if mem.status == "accepted":
            detail = f"accepted member of image {img.id}"
            yield img.ref, Use(mem.member_id, "image.member", mem.member_id, detail, kind="grant")


def _booted(conn: Any, img: Resource) -> Found:
    for srv in conn.compute.servers(all_projects=True, image=img.id):
        yield img.ref, Use(srv.project_id, "compute.server", srv.id, f"server {srv.id}")


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
            lookups.append(lookup(_port_in_hand, fip, ports[port_id]))
        elif port_id:
            lookups.append(lookup(_port_of, conn, fip, port_id))
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
