"""Designate's reverse DNS of a deleted project's floating IPs: found, owner-checked, unset first.

The PTR listing carries no owner: Designate answers for the project named in
the sudo header by asking Neutron for that project's floating IPs. So a PTR
is the project's only when the network handler found its floating IP owned by
the same project; anything else is a mismatch, never acted on.
"""

from __future__ import annotations

from typing import Any

from openstack.dns.v2.floating_ip import FloatingIP

from reaper.inventory.base import Scope
from reaper.inventory.dns import FLOATINGIP_PTR, DnsInventory
from reaper.model import Edge, IdentityKind, IdentityRef, Resource, ResourceRef

PROJECT = "0c5d5f0e3c2a4b5e9b1d2f3a4b5c6d7e"
OTHER = "9f8e7d6c5b4a39281716051423324150"
SCOPE = Scope.of(IdentityRef(IdentityKind.PROJECT, PROJECT))


class Dns:
    def __init__(self, ptrs: dict[str, list[FloatingIP]]) -> None:
        self.ptrs = ptrs
        self.asked: list[str | None] = []

    def floating_ips(self, project_id: str | None = None) -> list[FloatingIP]:
        self.asked.append(project_id)
        return self.ptrs.get(project_id or "", [])

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no recordset search expected: nothing points anywhere")


class Conn:
    def __init__(self, dns: Dns) -> None:
        self.dns = dns


def fip(fid: str, project: str = PROJECT, relation: str = "owner") -> Resource:
    return Resource(
        type="network.floating_ip",
        id=fid,
        project_id=project,
        attributes={"project_id": project, "reaper_relation": relation},
    )


def ptr(fid: str, name: str | None = "www.example.org.") -> FloatingIP:
    return FloatingIP(id=f"RegionOne:{fid}", address="172.24.4.9", ptrdname=name, status="ACTIVE")


def references(conn: Conn, *resources: Resource) -> Any:
    return DnsInventory().cross_reference(conn, SCOPE, list(resources))


def test_the_ptr_of_an_owned_floating_ip_is_found_and_goes_before_it() -> None:
    dns = Dns({PROJECT: [ptr("f1")]})

    found = references(Conn(dns), fip("f1"))

    (record,) = found.resources
    assert record.type == FLOATINGIP_PTR.name
    assert record.id == "RegionOne:f1"
    assert record.project_id == PROJECT
    assert record.attributes["ptrdname"] == "www.example.org."
    assert record.attributes["reaper_relation"] == "owner"
    assert record.edges == (Edge("address", ResourceRef("network.floating_ip", "f1")),)
    assert dns.asked == [PROJECT]


def test_a_ptr_of_a_floating_ip_the_project_does_not_own_is_a_mismatch() -> None:
    # Designate said it is the project's; Neutron (through the network handler) did not.
    dns = Dns({PROJECT: [ptr("f1"), ptr("someone-elses")]})

    found = references(Conn(dns), fip("f1"))

    assert [r.id for r in found.resources] == ["RegionOne:f1"]
    assert [r.id for r in found.mismatches] == ["RegionOne:someone-elses"]


def test_only_the_projects_own_floating_ips_are_asked_about() -> None:
    dns = Dns({})

    found = references(Conn(dns), fip("f1", relation="dangling"), fip("f2", project=OTHER))

    assert found.resources == () and dns.asked == []


def test_a_floating_ip_without_reverse_dns_has_nothing_to_unset() -> None:
    found = references(Conn(Dns({PROJECT: [ptr("f1", name=None)]})), fip("f1"))

    assert found.resources == ()


def test_a_ptr_listing_that_fails_makes_the_finding_incomplete_not_empty() -> None:
    class Failing(Dns):
        def floating_ips(self, project_id: str | None = None) -> list[FloatingIP]:
            raise ConnectionError("Designate could not reach Neutron")

    found = references(Conn(Failing({})), fip("f1"))

    assert found.resources == ()
    assert found.errors and "reverse DNS of floating IPs" in found.errors[0]
