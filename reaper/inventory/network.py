"""Networking: floating IPs, ports, routers and their interfaces, subnets,
networks, security groups, RBAC entries, quotas.

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
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from openstack.network.v2 import (
    floating_ip,
    network,
    port,
    rbac_policy,
    router,
    security_group,
    subnet,
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
RBAC_POLICY = ResourceType.from_sdk(
    "network.rbac_policy",
    rbac_policy.RBACPolicy,
    owner_fields=("project_id", "target_project_id"),
    description="A network RBAC entry the project owns or that grants to the project.",
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
        RBAC_POLICY,
        QUOTA,
    )

    def discover(self, conn: Any, scope: Scope) -> Finding:
        net = conn.network
        found = Collector("network", scope)
        for pid in sorted(scope.project_ids):
            listed = gather(
                {
                    "floating_ips": lambda pid=pid: list(net.ips(project_id=pid)),
                    "ports": lambda pid=pid: list(net.ports(project_id=pid)),
                    "routers": lambda pid=pid: list(net.routers(project_id=pid)),
                    "subnets": lambda pid=pid: list(net.subnets(project_id=pid)),
                    "networks": lambda pid=pid: list(net.networks(project_id=pid)),
                    "security_groups": lambda pid=pid: list(net.security_groups(project_id=pid)),
                    "rbac_owned": lambda pid=pid: list(net.rbac_policies(project_id=pid)),
                    "rbac_granted": lambda pid=pid: list(net.rbac_policies(target_project_id=pid)),
                }
            )
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
            if owner in INTERFACE_OWNERS:
                found.add(ROUTER_INTERFACE, _interface(prt, subnet_edges, fips_by_router, routed))
                continue
            edges = [network_edge, *subnet_edges]
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
            found.add(SUBNET, resource_from_sdk(SUBNET, sub, edges=edges))
        shared_with: dict[str, list[str]] = defaultdict(list)
        for rbac in listed["rbac_owned"]:
            if rbac.object_type == "network":
                shared_with[rbac.object_id].append(rbac.target_project_id)
        for nwk in listed["networks"]:
            resource = resource_from_sdk(NETWORK, nwk)
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
            if rbac.object_type == "network":
                edges.append(Edge("object", ResourceRef(NETWORK.name, rbac.object_id)))
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
