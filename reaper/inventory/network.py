"""Networking: floating IPs, ports, routers and their interfaces, subnets,
networks, security groups, subnet pools, address scopes, QoS policies, RBAC
entries, quotas.

Every list carries ``project_id``. Ports are split by ``device_owner``:
router interfaces become ``network.router_interface`` (removed through the
router API, after the floating IPs routed through that router), and ports
that belong to another object (DHCP, floating IP, gateway, SNAT) are left to
that object. Listing security groups with ``project_id`` makes Neutron
re-create the project's ``default`` group, even for a deleted project: it
is planned last, and its reappearance is not a leftover.

RBAC entries are found both ways: those the project owns (they share its
networks) and those granting the project access to another project's
network (revoked when the project goes). Neutron resources carry no user,
so a deleted user's scope finds nothing here.

Subnet pools, address scopes and QoS policies are shared by RBAC as
networks are: each RBAC entry points at its object (``object``: the entry
goes first), a subnet at its pool (``subnet_pool``), a pool at its address
scope (``address_scope``), a network or port at its QoS policy
(``qos_policy``), so the objects go after whatever of the owner's uses them.
A Neutron without the QoS extension answers 404 for its policies: it has
none.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.network.v2 import (
    address_scope,
    floating_ip,
    network,
    port,
    qos_policy,
    rbac_policy,
    router,
    security_group,
    subnet,
    subnet_pool,
)

from reaper.inventory.base import (
    Collector,
    Finding,
    Handler,
    ResourceType,
    Scope,
    gather,
    resource_from_sdk,
)
from reaper.inventory.compute import quota_resource
from reaper.inventory.uses import RBAC_OBJECTS
from reaper.model import Edge, IdentityKind, Resource, ResourceRef

FLOATING_IP = ResourceType.from_sdk(
    "network.floating_ip", floating_ip.FloatingIP, description="A floating IP address."
)
PORT = ResourceType.from_sdk("network.port", port.Port, description="A Neutron port.")
ROUTER = ResourceType.from_sdk("network.router", router.Router, description="A Neutron router.")
ROUTER_INTERFACE = ResourceType(
    "network.router_interface",
    fields=frozenset(
        {"router_id", "subnet_ids", "port_id", "network_id", "device_owner", "router_has_routes"}
    ),
    description="A router's interface on a subnet; removed before the router or subnet.",
)
SUBNET = ResourceType.from_sdk("network.subnet", subnet.Subnet, description="A Neutron subnet.")
NETWORK = ResourceType.from_sdk(
    "network.network",
    network.Network,
    extra_fields=("reaper_shared_with",),
    description="A Neutron network. reaper_shared_with lists the projects its owner's RBAC "
    "entries share it with ('*' for everyone).",
)
SECURITY_GROUP = ResourceType.from_sdk(
    "network.security_group",
    security_group.SecurityGroup,
    description="A security group; Neutron re-creates a project's 'default' group on listing.",
)
SUBNET_POOL = ResourceType.from_sdk(
    "network.subnet_pool",
    subnet_pool.SubnetPool,
    description="A subnet pool; removed after the owner's subnets allocated from it.",
)
ADDRESS_SCOPE = ResourceType.from_sdk(
    "network.address_scope",
    address_scope.AddressScope,
    description="An address scope; removed after the owner's subnet pools in it.",
)
QOS_POLICY = ResourceType.from_sdk(
    "network.qos_policy",
    qos_policy.QoSPolicy,
    description="A QoS policy; removed after the owner's networks and ports that have it.",
)
RBAC_POLICY = ResourceType.from_sdk(
    "network.rbac_policy",
    rbac_policy.RBACPolicy,
    owner_fields=("project_id", "target_project_id"),
    description="An RBAC entry (of a network, security group, subnet pool, address scope "
    "or QoS policy) the project owns or that grants to the project.",
)
QUOTA = ResourceType(
    "network.quota",
    description="The project's Neutron quotas; releasing them restores the defaults.",
)

INTERFACE_OWNERS = frozenset(
    {
        "network:router_interface",
        "network:router_interface_distributed",
        "network:ha_router_replicated_interface",
    }
)
#: The ``device_owner`` of a load balancer's VIP port (``device_id`` is ``lb-<id>``).
OCTAVIA_OWNER = "Octavia"
#: Ports that live and die with another object.
OWNED_PORTS = frozenset(
    {
        "network:dhcp",
        "network:floatingip",
        "network:router_gateway",
        "network:router_centralized_snat",
        "network:distributed",
    }
)


class NetworkInventory(Handler):
    service_type = "network"
    types = (
        FLOATING_IP,
        PORT,
        ROUTER,
        ROUTER_INTERFACE,
        SUBNET,
        NETWORK,
        SECURITY_GROUP,
        SUBNET_POOL,
        ADDRESS_SCOPE,
        QOS_POLICY,
        RBAC_POLICY,
        QUOTA,
    )
    listings = 11

    def discover(self, conn: Any, scope: Scope) -> Finding:
        net = conn.network
        found = Collector("network", scope)
        for pid in sorted(scope.project_ids):
            calls: dict[str, Callable[[], list[Any]]] = {
                "floating_ips": lambda pid=pid: list(net.ips(project_id=pid)),
                "ports": lambda pid=pid: list(net.ports(project_id=pid)),
                "routers": lambda pid=pid: list(net.routers(project_id=pid)),
                "subnets": lambda pid=pid: list(net.subnets(project_id=pid)),
                "networks": lambda pid=pid: list(net.networks(project_id=pid)),
                "security_groups": lambda pid=pid: list(net.security_groups(project_id=pid)),
                "subnet_pools": lambda pid=pid: list(net.subnet_pools(project_id=pid)),
                "address_scopes": lambda pid=pid: list(net.address_scopes(project_id=pid)),
                "qos_policies": lambda pid=pid: _qos_policies(net, pid),
                "rbac_owned": lambda pid=pid: list(net.rbac_policies(project_id=pid)),
                "rbac_granted": lambda pid=pid: list(net.rbac_policies(target_project_id=pid)),
            }
            # All side by side: on a slow Neutron, a listing that waits for a free
            # worker doubles the handler's latency.
            listed = gather(calls, workers=len(calls))
            self._collect(found, listed)
            if scope.identity.kind is not IdentityKind.USER:
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()

    @staticmethod
    def _collect(found: Collector, listed: dict[str, list[Any]]) -> None:
        fips_by_router: dict[str, list[str]] = defaultdict(list)
        routed = {r.id for r in listed["routers"] if r.routes}
        for fip in listed["floating_ips"]:
            edges = []
            if fip.port_id:
                edges.append(Edge("port", ResourceRef(PORT.name, fip.port_id)))
            if fip.router_id:
                edges.append(Edge("router", ResourceRef(ROUTER.name, fip.router_id)))
                fips_by_router[fip.router_id].append(fip.id)
            found.add(FLOATING_IP, resource_from_sdk(FLOATING_IP, fip, edges=edges))
        for prt in listed["ports"]:
            owner = prt.device_owner or ""
            if owner in OWNED_PORTS:
                continue
            subnet_edges = [
                Edge("subnet", ResourceRef(SUBNET.name, ip["subnet_id"]))
                for ip in prt.fixed_ips or ()
                if ip.get("subnet_id")
            ]
            network_edge = Edge("network", ResourceRef(NETWORK.name, prt.network_id))
            qos = _qos_edge(prt)
            if owner in INTERFACE_OWNERS:
                found.add(ROUTER_INTERFACE, _interface(prt, subnet_edges, fips_by_router, routed))
                continue
            edges = [network_edge, *subnet_edges, *qos]
            edges += [
                Edge("security_group", ResourceRef(SECURITY_GROUP.name, sg))
                for sg in prt.security_group_ids or ()
            ]
            if owner.startswith("compute:") and prt.device_id:
                edges.append(Edge("device", ResourceRef("compute.server", prt.device_id)))
            elif owner == OCTAVIA_OWNER and str(prt.device_id or "").startswith("lb-"):
                # A load balancer's VIP port: Octavia deletes it with the load balancer.
                lb_id = prt.device_id[3:]
                edges.append(Edge("device", ResourceRef("load_balancer.load_balancer", lb_id)))
            found.add(PORT, resource_from_sdk(PORT, prt, edges=edges))
        for rtr in listed["routers"]:
            found.add(ROUTER, resource_from_sdk(ROUTER, rtr))
        for sub in listed["subnets"]:
            edges = [Edge("network", ResourceRef(NETWORK.name, sub.network_id))]
            if sub.subnet_pool_id:
                edges.append(Edge("subnet_pool", ResourceRef(SUBNET_POOL.name, sub.subnet_pool_id)))
            found.add(SUBNET, resource_from_sdk(SUBNET, sub, edges=edges))
        for pool in listed["subnet_pools"]:
            scope = pool.address_scope_id
            edges = [Edge("address_scope", ResourceRef(ADDRESS_SCOPE.name, scope))] if scope else []
            found.add(SUBNET_POOL, resource_from_sdk(SUBNET_POOL, pool, edges=edges))
        for item in listed["address_scopes"]:
            found.add(ADDRESS_SCOPE, resource_from_sdk(ADDRESS_SCOPE, item))
        for policy in listed["qos_policies"]:
            found.add(QOS_POLICY, resource_from_sdk(QOS_POLICY, policy))
        shared_with: dict[str, list[str]] = defaultdict(list)
        for rbac in listed["rbac_owned"]:
            if rbac.object_type == "network":
                shared_with[rbac.object_id].append(rbac.target_project_id)
        for nwk in listed["networks"]:
            resource = resource_from_sdk(NETWORK, nwk, edges=_qos_edge(nwk))
            attrs = {**resource.attributes, "reaper_shared_with": sorted(shared_with[nwk.id])}
            found.add(NETWORK, dataclasses.replace(resource, attributes=attrs))
        for sg in listed["security_groups"]:
            found.add(SECURITY_GROUP, resource_from_sdk(SECURITY_GROUP, sg))
        seen_rbac: set[str] = set()
        for rbac in [*listed["rbac_owned"], *listed["rbac_granted"]]:
            if rbac.id in seen_rbac:
                continue
            seen_rbac.add(rbac.id)
            edges = []
            if rbac.object_type in RBAC_OBJECTS:
                obj = ResourceRef(RBAC_OBJECTS[rbac.object_type], rbac.object_id)
                edges.append(Edge("object", obj))
            found.add(RBAC_POLICY, resource_from_sdk(RBAC_POLICY, rbac, edges=edges))


def _interface(
    prt: Any,
    subnet_edges: list[Edge],
    fips_by_router: dict[str, list[str]],
    routed: set[str],
) -> Resource:
    router_id = prt.device_id
    edges = [Edge("router", ResourceRef(ROUTER.name, router_id)), *subnet_edges]
    edges += [
        Edge("floating_ip", ResourceRef(FLOATING_IP.name, fip))
        for fip in sorted(fips_by_router.get(router_id, ()))
    ]
    return Resource(
        type=ROUTER_INTERFACE.name,
        id=prt.id,
        name=prt.name or None,
        project_id=prt.project_id,
        status=prt.status,
        attributes={
            "router_id": router_id,
            "port_id": prt.id,
            "network_id": prt.network_id,
            "subnet_ids": [e.target.id for e in subnet_edges],
            "device_owner": prt.device_owner,
            "project_id": prt.project_id,
            "router_has_routes": router_id in routed,
        },
        edges=tuple(edges),
    )


def _qos_policies(net: Any, project_id: str) -> list[Any]:
    """The project's QoS policies; none where Neutron runs without the QoS extension."""
    try:
        return list(net.qos_policies(project_id=project_id))
    except sdk_exc.NotFoundException:
        return []


def _qos_edge(obj: Any) -> list[Edge]:
    """A network's or port's QoS policy: it goes after them."""
    policy = getattr(obj, "qos_policy_id", None)
    return [Edge("qos_policy", ResourceRef(QOS_POLICY.name, policy))] if policy else []
