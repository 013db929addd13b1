"""Neutron's subnet pools, address scopes and QoS policies: found, and ordered by edges.

The proxy is a stand-in answering each listing with openstacksdk's own
resource objects, so the attributes are those a real answer gives.
"""

from __future__ import annotations

from typing import Any

from openstack import exceptions
from openstack.network.v2 import (
    address_scope,
    network,
    port,
    qos_policy,
    rbac_policy,
    subnet,
    subnet_pool,
)

from reaper.inventory.base import Scope
from reaper.inventory.network import NetworkInventory
from reaper.model import IdentityKind, IdentityRef, ResourceRef

V = "v0000000000000000000000000000001"


class Neutron:
    """Each listing answers what it was given for ``V``; QoS may be missing."""

    def __init__(self, *, qos: bool = True, **listed: list[Any]) -> None:
        self.listed = listed
        self.qos = qos

    def __getattr__(self, name: str) -> Any:
        def listing(**query: Any) -> list[Any]:
            if name == "qos_policies" and not self.qos:
                raise exceptions.NotFoundException("The resource could not be found.")
            if name == "rbac_policies" and "target_project_id" in query:
                return []
            return self.listed.get(name, [])

        return listing


def discover(neutron: Neutron) -> dict[ResourceRef, Any]:
    conn = type("Conn", (), {"network": neutron})()
    scope = Scope.of(IdentityRef(IdentityKind.PROJECT, V))
    finding = NetworkInventory().discover(conn, scope)
    assert finding.errors == ()
    return {r.ref: r for r in finding.resources}


def edges(resource: Any) -> set[tuple[str, str, str]]:
    return {(e.relation, e.target.type, e.target.id) for e in resource.edges}


def test_pools_scopes_and_qos_policies_are_found_with_what_orders_them() -> None:
    found = discover(
        Neutron(
            subnet_pools=[subnet_pool.SubnetPool(id="pool", project_id=V, address_scope_id="as")],
            address_scopes=[address_scope.AddressScope(id="as", project_id=V)],
            qos_policies=[qos_policy.QoSPolicy(id="qos", project_id=V)],
            subnets=[subnet.Subnet(id="sub", project_id=V, network_id="net", subnetpool_id="pool")],
            networks=[network.Network(id="net", project_id=V, qos_policy_id="qos")],
            ports=[port.Port(id="prt", project_id=V, network_id="net", qos_policy_id="qos")],
            rbac_policies=[
                rbac_policy.RBACPolicy(
                    id="rbac",
                    project_id=V,
                    object_type="subnetpool",
                    object_id="pool",
                    target_project_id="l",
                    action="access_as_shared",
                )
            ],
        )
    )
    assert edges(found[ResourceRef("network.subnet", "sub")]) == {
        ("network", "network.network", "net"),
        ("subnet_pool", "network.subnet_pool", "pool"),
    }
    assert edges(found[ResourceRef("network.subnet_pool", "pool")]) == {
        ("address_scope", "network.address_scope", "as")
    }
    assert ("qos_policy", "network.qos_policy", "qos") in edges(
        found[ResourceRef("network.network", "net")]
    )
    assert ("qos_policy", "network.qos_policy", "qos") in edges(
        found[ResourceRef("network.port", "prt")]
    )
    assert edges(found[ResourceRef("network.rbac_policy", "rbac")]) == {
        ("object", "network.subnet_pool", "pool")
    }
    assert ResourceRef("network.address_scope", "as") in found
    assert ResourceRef("network.qos_policy", "qos") in found


def test_a_neutron_without_qos_has_no_policies_and_that_is_no_error() -> None:
    found = discover(Neutron(qos=False))
    assert not [ref for ref in found if ref.type == "network.qos_policy"]
