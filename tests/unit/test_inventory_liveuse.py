"""Live use: who else, still alive, uses what a deleted project leaves behind.

The connection is a stand-in answering the admin listings the stage makes
(by resource, never per project), so each kind of use reads as one case.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace as NS
from typing import Any

import pytest
from openstack import exceptions

from reaper.inventory.base import IN_USE, SHARED, USED_BY, Scope, live_users
from reaper.inventory.liveuse import Users, annotate, users_of
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
            ports=self._ports,
            networks=lambda qos_policy_id: self.listings.get("networks", {}).get(qos_policy_id, []),
            subnets=lambda subnet_pool_id: self.listings.get("subnets", {}).get(subnet_pool_id, []),
            subnet_pools=lambda address_scope_id: self.listings.get("pools", {}).get(
                address_scope_id, []
            ),
            security_group_rules=lambda remote_group_id: self._any(
                "rules", remote_group_id, "remote_group_id"
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
        self.block_storage = NS(get=self._cinder_get, get_volume=self._volume)

    def _ports(self, **query: Any) -> list[Any]:
        """By networks, by security groups or by a QoS policy, as Neutron filters them."""
        [(key, value)] = query.items()
        if key == "qos_policy_id":
            return self.listings.get(key, {}).get(value, [])
        stamped = "network_id" if key == "network_id" else None
        return self._any({"network_id": "ports"}.get(key, key), value, stamped)

    def _any(self, listing: str, values: list[str], stamped: str | None) -> list[Any]:
        """What matches any of ``values``, each object once, as Neutron answers a filter
        given several; ``stamped``: the attribute that names the value an object matched."""
        assert isinstance(values, list), "a filter's values come as a list"
        self.listings.setdefault("filters", []).append(tuple(values))
        found: dict[str, Any] = {}
        for value in values:
            for obj in self.listings.get(listing, {}).get(value, []):
                found.setdefault(obj.id, NS(**{**vars(obj), stamped: value}) if stamped else obj)
        return list(found.values())

    def _cinder_get(self, path: str, microversion: str) -> Any:
        self.listings.setdefault("asked", []).append((path, microversion))
        body = {"transfers": self.listings.get("transfers", [])}
        return NS(raise_for_status=lambda: None, json=lambda: body)

    def _volume(self, vid: str) -> Any:
        if vid not in self.listings.get("volumes", {}):
            raise exceptions.NotFoundException("no such volume")
        return self.listings["volumes"][vid]

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


# -- more kinds of use: groups by port, pools, scopes, QoS, wildcards, transfers ----------


def in_group(pid: str, project: str, group: str) -> NS:
    return NS(**{**vars(port(pid, project)), "security_group_ids": [group]})


def test_a_live_projects_port_in_the_group_keeps_it_and_its_rbac_entry() -> None:
    cloud = Cloud(security_group_ids={"sg-1": [in_group("p-1", L, "sg-1")]})
    found = annotated(
        cloud, grant("rbac-1", "security_group", "sg-1"), res("network.security_group", "sg-1")
    )
    assert live_users(found["sg-1"]) == (
        f"kept: in use by live project {L} (port p-1 on server srv-1 is in the group)"
    )
    assert found["rbac-1"].attributes[IN_USE] is True


def test_a_neutron_that_ignores_a_filter_makes_no_user_of_every_port() -> None:
    cloud = Cloud(security_group_ids={"sg-1": [in_group("p-1", L, "sg-other")]})
    found = annotated(cloud, res("network.security_group", "sg-1"))
    assert found["sg-1"].attributes[IN_USE] is False


def test_the_rbac_entry_of_a_subnet_pool_a_live_subnet_is_allocated_from_is_in_use() -> None:
    """The pool itself is not among the resources: its entry still is in use."""
    live_subnet = NS(id="sub-l", network_id="net-l", project_id=L, subnet_pool_id="pool-1")
    own_subnet = NS(id="sub-v", network_id="net-v", project_id=V, subnet_pool_id="pool-1")
    found = annotated(
        Cloud(subnets={"pool-1": [live_subnet, own_subnet]}),
        grant("rbac-1", "subnetpool", "pool-1"),
    )
    assert live_users(found["rbac-1"]) == (
        f"kept: in use by live project {L} (grants the use: subnet sub-l of network net-l "
        "is allocated from the pool)"
    )


def test_the_rbac_entry_of_an_address_scope_a_live_pool_is_in_is_in_use() -> None:
    pool = NS(id="pool-l", project_id=L, address_scope_id="as-1")
    found = annotated(Cloud(pools={"as-1": [pool]}), grant("rbac-1", "address_scope", "as-1"))
    assert found["rbac-1"].attributes[IN_USE] is True
    assert "subnet pool pool-l is in the address scope" in live_users(found["rbac-1"])


def test_the_rbac_entry_of_a_qos_policy_a_live_network_or_port_has_is_in_use() -> None:
    network = NS(id="net-l", project_id=L, qos_policy_id="qos-1")
    qos_port = NS(**{**vars(port("p-1", L)), "qos_policy_id": "qos-1"})
    cloud = Cloud(networks={"qos-1": [network]}, qos_policy_id={"qos-1": [qos_port]})
    found = annotated(cloud, grant("rbac-1", "qos_policy", "qos-1"))
    assert [u["id"] for u in found["rbac-1"].attributes[USED_BY] if u["kind"] == "use"] == [
        "net-l",
        "p-1",
    ]


def test_an_entry_no_live_project_depends_on_shares_but_keeps_nothing() -> None:
    found = annotated(Cloud(subnets={"pool-1": []}), grant("rbac-1", "subnetpool", "pool-1"))
    assert (found["rbac-1"].attributes[IN_USE], found["rbac-1"].attributes[SHARED]) == (
        False,
        True,
    )


def test_a_wildcard_entry_is_in_use_by_any_live_project_using_the_object() -> None:
    found = annotated(
        Cloud(ports={"net-1": [port("p-1", L)]}),
        grant("rbac-all", "network", "net-1", target="*"),
        res("network.network", "net-1"),
    )
    assert found["rbac-all"].attributes[IN_USE] is True


def test_an_entry_whose_objects_users_could_not_be_listed_is_kept() -> None:
    cloud = Cloud()
    cloud.network.subnets = lambda subnet_pool_id: (_ for _ in ()).throw(RuntimeError("500"))
    finding, out = annotate(cloud, SCOPE, [grant("rbac-1", "subnetpool", "pool-1")])
    assert finding.errors and "subnet pools" in finding.errors[0]
    assert out[0].attributes[IN_USE] is True


def test_a_volume_awaiting_a_transfer_is_kept_for_whoever_accepts_it() -> None:
    cloud = Cloud(
        transfers=[{"id": "tr-1", "volume_id": "vol-1"}, {"id": "tr-x", "volume_id": "x"}]
    )
    found = annotated(
        cloud,
        res("block_storage.volume", "vol-1", status="awaiting-transfer"),
        res("block_storage.volume", "vol-2", status="available"),
    )
    assert found["vol-1"].attributes[USED_BY] == [
        {
            "project_id": "unknown",
            "type": "block_storage.transfer",
            "id": "tr-1",
            "detail": "pending transfer tr-1: whoever accepts it takes the volume "
            "(the project is known only then)",
            "kind": "use",
        }
    ]
    assert found["vol-2"].attributes[IN_USE] is False
    # One listing of every project's transfers (openstacksdk would drop all_tenants).
    assert cloud.listings["asked"] == [("/volume-transfers/detail?all_tenants=True", "3.55")]


def test_no_transfer_is_listed_while_no_volume_awaits_one() -> None:
    cloud = Cloud()
    annotated(cloud, res("block_storage.volume", "vol-2", status="available"))
    assert "asked" not in cloud.listings


# -- users_of: a refused deletion re-examined --------------------------------------------


def test_users_of_a_subnet_tells_live_users_from_the_owners_own_ports() -> None:
    cloud = Cloud(ports={"net-1": [port("p-1", L), port("p-own", V), port("p-gone", GONE)]})
    users = users_of(cloud, res("network.subnet", "sub-1", network_id="net-1"))
    assert [u.id for u in users.live] == ["p-1"]
    assert [u.id for u in users.others] == ["p-gone", "p-own"]
    assert users.said() == f"in use by live project {L} (port p-1 on server srv-1)"
    assert users.error == ""


def test_users_of_an_rbac_entry_are_its_targets_uses_not_the_grant() -> None:
    cloud = Cloud(ports={"net-1": [port("p-1", L)]})
    users = users_of(cloud, grant("rbac-1", "network", "net-1"))
    assert [(u.project_id, u.id, u.detail) for u in users.live] == [
        (L, "p-1", "grants the use: port p-1 on server srv-1")
    ]
    nothing = users_of(Cloud(), grant("rbac-1", "network", "net-1"))
    assert (nothing.live, nothing.others) == ((), ())


def test_users_of_a_volume_are_read_from_the_volume_as_it_is_now() -> None:
    now = NS(attachments=[{"server_id": "srv-l"}], status="in-use")
    users = users_of(Cloud(volumes={"vol-1": now}), res("block_storage.volume", "vol-1"))
    assert [u.id for u in users.live] == ["srv-l"]
    assert users_of(Cloud(), res("block_storage.volume", "vol-gone")) == Users()


def test_users_that_cannot_be_listed_are_not_known() -> None:
    cloud = Cloud()
    cloud.network.ports = lambda **q: (_ for _ in ()).throw(RuntimeError("neutron down"))
    users = users_of(cloud, res("network.network", "net-1"))
    assert (users.live, users.others) == ((), ())
    assert "neutron down" in users.error


def test_a_resource_a_deleted_user_created_in_a_live_project_is_used_by_that_project() -> None:
    creator = Resource(
        "network.network",
        "net-1",
        project_id=L,
        attributes={"project_id": L, "reaper_relation": "creator", "network_id": "net-1"},
    )
    users = users_of(Cloud(ports={"net-1": [port("p-1", L)]}), creator)
    assert [u.project_id for u in users.live] == [L]


def test_the_objects_of_entries_others_granted_to_the_owner_are_not_listed() -> None:
    """L's network shared with V: V's use of it is no live use, so nobody is asked."""
    cloud = Cloud()
    asked: list[str] = []
    cloud.network.ports = lambda **q: asked.append(str(q)) or []
    theirs = Resource(
        "network.rbac_policy",
        "rbac-l",
        project_id=L,
        attributes={
            "project_id": L,
            "target_project_id": V,
            "object_type": "network",
            "object_id": "net-l",
        },
    )
    annotated(cloud, theirs)
    assert asked == []


def test_an_attachment_to_a_server_nova_no_longer_has_is_no_use() -> None:
    cloud = Cloud()

    def gone(sid: str) -> Any:
        raise exceptions.NotFoundException("no such server")

    cloud.compute.get_server = gone
    vol = res("block_storage.volume", "vol-1", attachments=[{"server_id": "srv-gone"}])
    assert annotated(cloud, vol)["vol-1"].attributes[IN_USE] is False


# -- the lookups go together, and the ones whose answer discovery holds are not sent --------


def test_the_lookups_of_every_finder_are_in_flight_together() -> None:
    """Each listing waits until all the others were sent: one after another, none returns.

    Four: the ports of both networks, the rules and the ports of the group, the servers.
    """
    together = threading.Barrier(4, timeout=5)
    cloud = Cloud()

    def listing(answer: list[Any]) -> Any:
        def listed(**query: Any) -> list[Any]:
            together.wait()
            return answer

        return listed

    cloud.network.ports = listing([])
    cloud.network.security_group_rules = listing([])
    cloud.compute.servers = listing([NS(id="srv-9", project_id=L)])
    found = annotated(
        cloud,
        res("network.network", "net-1"),
        res("network.network", "net-2"),
        res("network.security_group", "sg-1"),
        res("image.image", "img-1", visibility="private"),
    )
    assert found["img-1"].attributes[IN_USE] is True
    assert found["net-1"].attributes[IN_USE] is False


def test_one_failed_lookup_keeps_every_resource_its_finder_looks_at() -> None:
    """As when one listing after another stopped at the first error: fail closed."""
    cloud = Cloud(ports={"net-1": [port("p-1", L)]})
    listed = cloud.network.ports

    def ports(network_id: list[str]) -> list[Any]:
        if "net-2" in network_id:
            raise RuntimeError("neutron down")
        return listed(network_id=network_id)

    cloud.network.ports = ports
    finding, out = annotate(
        cloud, SCOPE, [res("network.network", "net-1"), res("network.network", "net-2")]
    )
    assert len(finding.errors) == 1 and "neutron down" in finding.errors[0]
    found = {r.id: r for r in out}
    for rid in ("net-1", "net-2"):
        assert found[rid].attributes[IN_USE] is True
        assert "its users could not be listed" in {
            u["detail"] for u in found[rid].attributes[USED_BY]
        }


def test_the_users_of_many_networks_and_groups_cost_a_listing_per_forty() -> None:
    """Neutron ORs a filter's values: one listing per kind of use, not one per resource."""
    nets = [res("network.network", f"net-{n:02}") for n in range(41)]
    groups = [res("network.security_group", f"sg-{n}") for n in range(2)]
    cloud = Cloud(
        ports={"net-40": [port("p-1", L)]},
        security_group_ids={"sg-1": [in_group("p-2", L, "sg-1")]},
        rules={"sg-0": [NS(id="rule-1", project_id=L, security_group_id="sg-l")]},
    )
    found = annotated(cloud, *nets, *groups)
    assert sorted(len(f) for f in cloud.listings["filters"]) == [1, 2, 2, 40]
    in_use = sorted(r for r, res_ in found.items() if res_.attributes[IN_USE])
    assert in_use == ["net-40", "sg-0", "sg-1"]
    (rule_use,) = found["sg-0"].attributes[USED_BY]
    assert rule_use["id"] == "rule-1"


def test_a_listing_that_ignores_the_filter_names_no_other_resource() -> None:
    """A port on a network the owner does not have is nobody's use of the owner's."""
    cloud = Cloud()
    cloud.network.ports = lambda **query: [NS(**{**vars(port("p-1", L)), "network_id": "n-x"})]
    assert annotated(cloud, res("network.network", "net-1"))["net-1"].attributes[IN_USE] is False


def test_the_same_cloud_gives_the_same_uses_in_the_same_order() -> None:
    def cloud() -> Cloud:
        return Cloud(
            ports={"net-1": [port("p-2", L), port("p-1", L)]},
            rules={"sg-1": [NS(id="rule-1", project_id=L, security_group_id="sg-l")]},
        )

    resources = (res("network.network", "net-1"), res("network.security_group", "sg-1"))
    assert annotate(cloud(), SCOPE, resources) == annotate(cloud(), SCOPE, resources)


def test_a_server_discovery_listed_is_not_asked_of_nova_again() -> None:
    cloud = Cloud()
    cloud.compute.get_server = lambda sid: pytest.fail(f"asked Nova for {sid}")
    vols = [
        res("block_storage.volume", f"vol-{n}", attachments=[{"server_id": "srv-own"}])
        for n in (1, 2)
    ]
    found = annotated(cloud, res("compute.server", "srv-own"), *vols)
    assert [found[v.id].attributes[IN_USE] for v in vols] == [False, False]


def test_a_server_attached_to_several_volumes_is_asked_for_once() -> None:
    cloud, asked = Cloud(), []
    cloud.compute.get_server = lambda sid: asked.append(sid) or NS(project_id=L)
    vols = [
        res("block_storage.volume", f"vol-{n}", attachments=[{"server_id": "srv-l"}])
        for n in (1, 2)
    ]
    found = annotated(cloud, *vols)
    assert asked == ["srv-l"]
    assert [found[v.id].attributes[IN_USE] for v in vols] == [True, True]


def test_a_floating_ips_port_discovery_listed_is_not_asked_for_again() -> None:
    cloud = Cloud(port_by_id={})
    own = res("network.port", "p-own", device_owner="compute:nova", device_id="srv-own")
    fip = res("network.floating_ip", "fip-1", port_id="p-own")
    assert annotated(cloud, own, fip)["fip-1"].attributes[IN_USE] is False
