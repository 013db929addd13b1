"""Networking: floating IPs, ports, routers and their interfaces, subnets,
networks, security groups, RBAC entries, quotas."""

from __future__ import annotations

from openstack.network.v2 import (
    floating_ip,
    network,
    port,
    rbac_policy,
    router,
    security_group,
    subnet,
)

from reaper.inventory.base import Finding, Handler, ResourceType, Scope

FLOATING_IP = ResourceType.from_sdk(
    "network.floating_ip", floating_ip.FloatingIP, description="A floating IP address."
)
PORT = ResourceType.from_sdk("network.port", port.Port, description="A Neutron port.")
ROUTER = ResourceType.from_sdk("network.router", router.Router, description="A Neutron router.")
ROUTER_INTERFACE = ResourceType(
    "network.router_interface",
    fields=frozenset({"router_id", "subnet_id", "port_id", "network_id"}),
    description="A router's interface on a subnet; removed before the router or subnet.",
)
SUBNET = ResourceType.from_sdk("network.subnet", subnet.Subnet, description="A Neutron subnet.")
NETWORK = ResourceType.from_sdk(
    "network.network", network.Network, description="A Neutron network."
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

    def discover(self, conn, scope: Scope) -> Finding:  # type: ignore[no-untyped-def]
        raise NotImplementedError
