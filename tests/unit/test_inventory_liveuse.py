"""Live use: who else, still alive, uses what a deleted project leaves behind.

The connection is a stand-in answering the admin listings the stage makes
(by resource, never per project), so each kind of use reads as one case.
"""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

from openstack import exceptions

from reaper.inventory.base import IN_USE, SHARED, USED_BY, Scope, live_users
from reaper.inventory.liveuse import annotate
from reaper.model import IdentityKind, IdentityRef, Resource

V = "v-deleted"
L = "l-live"
GONE = "g-deleted-too"
SCOPE = Scope.of(IdentityRef(IdentityKind.PROJECT, V))


class Cloud:
    """Admin listings filtered by resource; Keystone knows ``L`` only."""

    def __init__(self, **listings: Any) -> None:
        self.listings = listings
        self.network = NS(
            ports=lambda network_id: self.listings.get("ports", {}).get(network_id, []),
            security_group_rules=lambda remote_group_id: self.listings.get("rules", {}).get(
                remote_group_id, []
            ),
            get_router=lambda rid: NS(project_id=L),
            get_port=lambda pid: self.listings["port_by_id"][pid],
        )
        self.image = NS(members=lambda iid: self.listings.get("members", {}).get(iid, []))
        self.compute = NS(
            servers=lambda all_projects, image: self.listings.get("servers", {}).get(image, []),
            get_server=lambda sid: NS(project_id=L),
        )
        self.identity = NS(get_project=self._project)

    @staticmethod
    def _project(pid: str) -> Any:
        if pid != L:
            raise exceptions.NotFoundException("no such project")
        return NS(id=pid)


def res(rtype: str, rid: str, **attrs: Any) -> Resource:
    return Resource(rtype, rid, project_id=V, attributes={"project_id": V, **attrs})


def port(pid: str, project: str, owner: str = "compute:nova", device: str = "srv-1") -> NS:
    return NS(
        id=pid,
        project_id=project,
        device_owner=owner,
        device_id=device,
        fixed_ips=[{"subnet_id": "sub-1"}],
    )


def annotated(cloud: Cloud, *resources: Resource) -> dict[str, Resource]:
    finding, out = annotate(cloud, SCOPE, resources)
    assert finding.errors == ()
    return {r.id: r for r in out}


def test_a_live_projects_server_port_on_the_network_keeps_network_and_subnet() -> None:
    cloud = Cloud(ports={"net-1": [port("p-1", L), port("p-own", V)]})
    found = annotated(
        cloud, res("network.network", "net-1"), res("network.subnet", "sub-1", network_id="net-1")
    )
    for rid in ("net-1", "sub-1"):
        assert found[rid].attributes[IN_USE] is True
        assert found[rid].attributes[USED_BY] == [
            {
                "project_id": L,
                "type": "network.port",
                "id": "p-1",
                "detail": "port p-1 on server srv-1",
                "kind": "use",
            }
        ]
    assert live_users(found["net-1"]) == (
        f"kept: in use by live project {L} (port p-1 on server srv-1)"
    )


def test_another_routers_gateway_on_the_network_is_a_use_by_the_routers_project() -> None:
    gateway = port("gw-1", "", owner="network:router_gateway", device="r-1")
    found = annotated(Cloud(ports={"net-1": [gateway]}), res("network.network", "net-1"))
    assert found["net-1"].attributes[USED_BY][0]["detail"] == "gateway port gw-1 of router r-1"


def test_a_port_of_a_project_that_is_deleted_too_is_no_live_use() -> None:
    found = annotated(Cloud(ports={"net-1": [port("p-1", GONE)]}), res("network.network", "net-1"))
    assert found["net-1"].attributes[IN_USE] is False


def grant(rid: str, obj_type: str, obj_id: str, target: str = L) -> Resource:
    return res(
        "network.rbac_policy",
        rid,
        target_project_id=target,
        object_type=obj_type,
        object_id=obj_id,
        action="access_as_shared",
    )


def test_an_rbac_grant_nothing_uses_yet_shares_but_is_not_in_use() -> None:
    found = annotated(
        Cloud(), grant("rbac-1", "security_group", "sg-1"), res("network.security_group", "sg-1")
    )
    for rid in ("rbac-1", "sg-1"):
        assert (found[rid].attributes[IN_USE], found[rid].attributes[SHARED]) == (False, True)
    assert found["sg-1"].attributes[USED_BY][0]["detail"] == (
        "access_as_shared granted by RBAC entry rbac-1"
    )
    assert live_users(found["sg-1"]) == ""


def test_the_rbac_entry_granting_a_use_is_in_use_by_its_target() -> None:
    cloud = Cloud(ports={"net-1": [port("p-1", L)]})
    found = annotated(
        cloud,
        grant("rbac-1", "network", "net-1"),
        grant("rbac-other", "network", "net-1", target=GONE),
        res("network.network", "net-1"),
    )
    assert found["rbac-1"].attributes[IN_USE] is True
    assert live_users(found["rbac-1"]) == (
        f"kept: in use by live project {L} (grants the use: port p-1 on server srv-1)"
    )
    assert found["rbac-other"].attributes[IN_USE] is False


def test_a_grant_to_the_deleted_project_by_another_is_not_a_use() -> None:
    grant = Resource(
        "network.rbac_policy",
        "rbac-2",
        project_id=L,
        attributes={"project_id": L, "target_project_id": V, "object_type": "network"},
    )
    found = annotated(Cloud(), grant)
    assert found["rbac-2"].attributes[IN_USE] is False


def test_a_live_projects_rule_naming_the_group_as_remote_keeps_it() -> None:
    rule = NS(id="rule-1", project_id=L, security_group_id="sg-l")
    found = annotated(Cloud(rules={"sg-1": [rule]}), res("network.security_group", "sg-1"))
    assert found["sg-1"].attributes[USED_BY][0]["type"] == "network.security_group_rule"


def test_an_image_booted_by_a_live_server_is_in_use_an_accepted_one_shared() -> None:
    cloud = Cloud(
        members={
            "img-1": [NS(member_id=L, status="accepted"), NS(member_id=GONE, status="pending")]
        },
        servers={"img-2": [NS(id="srv-9", project_id=L)]},
    )
    found = annotated(
        cloud,
        res("image.image", "img-1", visibility="shared"),
        res("image.image", "img-2", visibility="private"),
        res("image.image", "img-3", visibility="shared"),
    )
    assert [u["type"] for u in found["img-1"].attributes[USED_BY]] == ["image.member"]
    assert (found["img-1"].attributes[IN_USE], found["img-1"].attributes[SHARED]) == (False, True)
    assert [u["id"] for u in found["img-2"].attributes[USED_BY]] == ["srv-9"]
    assert found["img-3"].attributes[IN_USE] is False


def test_a_volume_attached_to_a_live_projects_server_is_kept() -> None:
    vol = res("block_storage.volume", "vol-1", attachments=[{"server_id": "srv-1"}])
    assert annotated(Cloud(), vol)["vol-1"].attributes[IN_USE] is True


def test_a_floating_ip_on_a_live_projects_port_is_kept() -> None:
    cloud = Cloud(port_by_id={"p-1": port("p-1", L)})
    fip = res("network.floating_ip", "fip-1", port_id="p-1")
    assert annotated(cloud, fip)["fip-1"].attributes[IN_USE] is True


def test_types_nobody_else_can_use_get_no_live_use_fields() -> None:
    server = res("compute.server", "srv-own")
    assert IN_USE not in annotated(Cloud(), server)["srv-own"].attributes


def test_a_listing_that_fails_keeps_what_it_concerns_failing_closed() -> None:
    cloud = Cloud()
    cloud.network.ports = lambda network_id: (_ for _ in ()).throw(RuntimeError("neutron down"))
    finding, out = annotate(cloud, SCOPE, [res("network.network", "net-1")])
    assert finding.errors and "neutron down" in finding.errors[0]
    [net] = out
    assert net.attributes[IN_USE] is True
    assert "could not be listed" in net.attributes[USED_BY][0]["detail"]


def test_a_keystone_that_cannot_answer_keeps_the_resource() -> None:
    cloud = Cloud(ports={"net-1": [port("p-1", "p-unsure")]})
    cloud.identity.get_project = lambda pid: (_ for _ in ()).throw(RuntimeError("503"))
    found = annotated(cloud, res("network.network", "net-1"))
    assert found["net-1"].attributes[IN_USE] is True
    assert "Keystone could not say" in found["net-1"].attributes[USED_BY][0]["detail"]
