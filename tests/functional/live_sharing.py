"""A deleted project V that shares with a live project L: the setup both live-use modules need.

``test_live_use`` drives the operator's plan/apply over it, ``test_live_wait``
the controller's road; both start from the same sharing, made here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from reaper.model import Plan, Verdict
from tests.testbed.tenant import SERVER_FLAVOR, Tenant, TenantSpec

if TYPE_CHECKING:
    from openstack.connection import Connection

NOTHING = dict(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    keypairs=0,
)
#: V: a network, subnet, router, one image and one security group.
OWNER_SPEC = TenantSpec(**NOTHING, images=1, security_groups=1)
#: L: its own network only.
USER_SPEC = TenantSpec(**NOTHING, images=0, security_groups=0)
WAIT = 300


def share(admin: Connection, owner: Tenant, user: Tenant) -> tuple[str, str, str, str, str]:
    """V shares its network, image and group with L; L boots a server and names the group."""
    v, lc = owner.connect(), user.connect()
    rbac = v.network.create_rbac_policy(
        object_type="network",
        object_id=owner.network_id,
        action="access_as_shared",
        target_project_id=user.project_id,
    )
    image_id = owner.image_ids[0]
    v.image.update_image(image_id, visibility="shared")
    v.image.add_member(image_id, member_id=user.project_id)
    lc.image.update_member(user.project_id, image_id, status="accepted")
    group_id = owner.security_group_ids[0]
    own_group = lc.network.create_security_group(name=f"{user.project_name}-sg")
    rule = admin.network.create_security_group_rule(
        security_group_id=own_group.id,
        direction="ingress",
        ethertype="IPv4",
        remote_group_id=group_id,
        project_id=user.project_id,
    )
    flavor = lc.compute.find_flavor(SERVER_FLAVOR, ignore_missing=False)
    server = lc.compute.create_server(
        name=f"{user.project_name}-on-v",
        flavor_id=flavor.id,
        image_id=image_id,
        networks=[{"uuid": owner.network_id}],
    )
    lc.compute.wait_for_server(server, wait=WAIT)
    return rbac.id, image_id, group_id, rule.id, server.id


def decision_on(plan: Plan, rtype: str, rid: str) -> Any:
    """The plan's one decision about the resource ``rtype``/``rid``."""
    [found] = [d for d in plan.decisions if (d.resource.type, d.resource.id) == (rtype, rid)]
    return found


def resource_of(plan: Plan, ref: Any) -> Any:
    """The plan's one resource with the reference ``ref``."""
    [found] = [r for r in plan.resources if r.ref == ref]
    return found


def ports_using(plan: Plan, network_id: str) -> list[str]:
    """The ports the plan says use V's network (its ``reaper_used_by`` edges)."""
    network = decision_on(plan, "network.network", network_id)
    return [
        u["id"]
        for u in dict(resource_of(plan, network.resource).attributes)["reaper_used_by"]
        if u["type"] == "network.port"
    ]


class Sharing(Protocol):
    """What both modules' worlds know of V's sharing with L."""

    owner: Tenant
    user: Tenant
    rbac_id: str
    image_id: str
    group_id: str
    rule_id: str
    server_id: str


def assert_kept_for_live_use(plan: Plan, world: Sharing, admin: Connection) -> None:
    """The plan keeps what L uses, saying by whom, and the services still have all of it."""
    user, net = world.user.project_id, admin.network
    port = ports_using(plan, world.owner.network_id)[0]
    kept = {
        ("network.network", world.owner.network_id): f"port {port} on server",
        ("network.rbac_policy", world.rbac_id): "grants the use: port",
        ("image.image", world.image_id): f"server {world.server_id}",
        ("network.security_group", world.group_id): f"rule {world.rule_id}",
    }
    for (rtype, rid), detail in kept.items():
        decision = decision_on(plan, rtype, rid)
        assert decision.verdict is Verdict.PROTECT, decision
        assert decision.reason.startswith(f"kept: in use by live project {user} ({detail}")
    subnet = decision_on(plan, "network.subnet", world.owner.subnet_id)
    assert subnet.verdict is Verdict.PROTECT
    assert net.get_rbac_policy(world.rbac_id).target_project_id == user
    assert net.get_network(world.owner.network_id) is not None
    assert net.get_subnet(world.owner.subnet_id) is not None
    assert net.get_security_group(world.group_id) is not None
    assert admin.image.get_image(world.image_id) is not None
