"""Never cut off a live tenant, on the real testbed.

A project V shares with a live project L: its network through an RBAC
entry (L's ACTIVE server has its port on it), its image (L's server booted
from it) and its security group (L's rule names it as remote group). V is
deleted in Keystone; ``reaper plan`` and ``reaper apply`` run. L's server is
still ACTIVE on V's network, the RBAC entry, network, subnet, image and
group are kept and the plan says who uses each, and V's router is gone and
its quotas released now. Then L stops using them (deletes its server and its
rule): the next plan reaps the rest.

V also shares a subnet pool (RBAC), from which L's subnet is allocated: the
entry is kept while that subnet exists. And a second network of V, shared
with L but unused when the plan is made: L puts a port on it between plan
and apply. apply's re-check keeps its steps, naming L and the port; run
again the controller's way (no re-check), the same steps meet Neutron's
409s (RbacPolicyInUse, SubnetInUse), which are re-examined at once and keep
them, naming L, without a retry (no failure record).

One small pair of tenants, one server: CI budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from reaper import config
from reaper.audit.trail import AuditTrail
from reaper.cleanup.execute import execute_plan
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.executor import Report
from reaper.model import OutcomeStatus, Plan, Verdict
from reaper.policy import configured_policy_paths, load_policies
from tests.functional.live_sharing import (
    OWNER_SPEC,
    USER_SPEC,
    WAIT,
    assert_kept_for_live_use,
    decision_on,
    share,
)
from tests.functional.reaping import Operator, Run, TenantFarm, load_plan
from tests.testbed.tenant import Tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

TENANTS = {"live-use-owner": OWNER_SPEC, "live-use-user": USER_SPEC}


@dataclasses.dataclass
class Hands:
    """V's address scope (L's pool is in it) and V's volume, offered by a pending transfer."""

    scope_id: str
    scope_rbac_id: str
    user_pool_id: str
    volume_id: str
    transfer_id: str
    auth_key: str


@dataclasses.dataclass
class Later:
    """What V shares beyond the first round: a pool L's subnet uses, a network L uses late."""

    pool_id: str
    pool_rbac_id: str
    pool_net_id: str
    pool_subnet_id: str
    net_id: str
    subnet_id: str
    net_rbac_id: str
    #: L's port on the second network, made after the plan.
    port_id: str = ""


@dataclasses.dataclass
class World:
    owner: Tenant
    user: Tenant
    rbac_id: str
    image_id: str
    group_id: str
    rule_id: str
    server_id: str
    operator: Operator
    first: tuple[Run, Plan, Run]
    later: Later
    hands: Hands


def _share_more(owner: Tenant, user: Tenant) -> Later:
    """V's subnet pool shared with L, L's subnet from it; V's second network shared, unused."""
    v, lc, lp = owner.connect().network, user.connect().network, user.project_id
    pool = v.create_subnet_pool(
        name=f"{owner.project_name}-pool", prefixes=["10.190.0.0/16"], default_prefix_length=24
    )
    pool_rbac = v.create_rbac_policy(
        object_type="subnetpool", object_id=pool.id, action="access_as_shared", target_project_id=lp
    )
    pool_net = lc.create_network(name=f"{user.project_name}-pooled")
    pool_subnet = lc.create_subnet(network_id=pool_net.id, subnet_pool_id=pool.id, ip_version=4)
    second = v.create_network(name=f"{owner.project_name}-net2")
    second_subnet = v.create_subnet(network_id=second.id, cidr="10.191.0.0/24", ip_version=4)
    second_rbac = v.create_rbac_policy(
        object_type="network", object_id=second.id, action="access_as_shared", target_project_id=lp
    )
    return Later(
        pool.id,
        pool_rbac.id,
        pool_net.id,
        pool_subnet.id,
        second.id,
        second_subnet.id,
        second_rbac.id,
    )


def _hand_over(owner: Tenant, user: Tenant) -> Hands:
    """V shares an address scope L's pool is in, and offers L a volume (a pending transfer)."""
    v, lc, lp = owner.connect(), user.connect().network, user.project_id
    scope = v.network.create_address_scope(name=f"{owner.project_name}-scope", ip_version=4)
    scope_rbac = v.network.create_rbac_policy(
        object_type="address_scope",
        object_id=scope.id,
        action="access_as_shared",
        target_project_id=lp,
    )
    user_pool = lc.create_subnet_pool(
        name=f"{user.project_name}-scoped",
        prefixes=["10.192.0.0/16"],
        default_prefix_length=24,
        address_scope_id=scope.id,
    )
    volume = v.block_storage.create_volume(size=1, name=f"{owner.project_name}-handed")
    v.block_storage.wait_for_status(volume, "available", wait=WAIT)
    transfer = v.block_storage.create_transfer(volume_id=volume.id, name="to L")
    return Hands(
        scope.id, scope_rbac.id, user_pool.id, volume.id, transfer.id, str(transfer.auth_key)
    )


def _reap(
    operator: Operator, owner: Tenant, name: str, between: Any = None
) -> tuple[Run, Plan, Run]:
    """plan, then ``between()`` (what happens before the operator applies), then apply."""
    plan_run, plan_file = operator.plan("project", owner.project_id, name=name)
    assert plan_run.code == 0, plan_run
    if between is not None:
        between()
    apply_run = operator("apply", str(plan_file), "--yes", "-f", "json")
    return plan_run, load_plan(plan_file), apply_run


@pytest.fixture(scope="module")
def world(
    tenant_farm: TenantFarm,
    testbed: Testbed,
    testbed_admin: Connection,
    fault_proxy: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    owner = tenant_farm.order("live-use-owner", OWNER_SPEC).result()
    user = tenant_farm.order("live-use-user", USER_SPEC).result()
    rbac_id, image_id, group_id, rule_id, server_id = share(testbed_admin, owner, user)
    later = _share_more(owner, user)
    hands = _hand_over(owner, user)
    operator = Operator(tmp_path_factory.mktemp("live-use"), fault_proxy, testbed)
    delete_identity(testbed_admin, owner)

    def late_port() -> None:
        """L starts using V's second network after the plan was made."""
        port = user.connect().network.create_port(network_id=later.net_id, name="late")
        later.port_id = port.id

    first = _reap(operator, owner, "first", between=late_port)
    yield World(
        owner,
        user,
        rbac_id,
        image_id,
        group_id,
        rule_id,
        server_id,
        operator,
        first,
        later,
        hands,
    )
    testbed_admin.compute.delete_server(server_id, ignore_missing=True)
    testbed_admin.network.delete_subnet_pool(later.pool_id, ignore_missing=True)
    testbed_admin.network.delete_subnet_pool(hands.user_pool_id, ignore_missing=True)
    testbed_admin.network.delete_address_scope(hands.scope_id, ignore_missing=True)
    testbed_admin.block_storage.delete_volume(hands.volume_id, ignore_missing=True)


def test_the_live_projects_server_is_still_active_on_the_network(
    world: World, testbed_admin: Connection
) -> None:
    _, _, apply_run = world.first
    assert apply_run.code == 0, apply_run
    server = testbed_admin.compute.get_server(world.server_id)
    assert server.status == "ACTIVE"
    ports = list(testbed_admin.network.ports(device_id=world.server_id))
    assert [p.network_id for p in ports] == [world.owner.network_id]


def test_what_the_live_project_uses_is_kept_and_the_plan_says_by_whom(
    world: World, testbed_admin: Connection
) -> None:
    _, plan, _ = world.first
    assert_kept_for_live_use(plan, world, testbed_admin)


def test_what_nobody_alive_uses_goes_now_quotas_included(
    world: World, testbed_admin: Connection
) -> None:
    _, plan, apply_run = world.first
    done = {(f"{o['Service']}.{o['Type']}", o["ID"]): o["Status"] for o in apply_run.json()}
    router = decision_on(plan, "network.router", world.owner.router_id)
    assert done.get(("network.router", world.owner.router_id)) == "done", (router, done)
    for quota in ("compute", "block_storage", "network"):
        [ref] = [s.resource for s in plan.steps if s.resource.type == f"{quota}.quota"]
        # Released (already_gone: that service held nothing beyond its defaults).
        assert done[(ref.type, ref.id)] in ("done", "already_gone"), done
    assert testbed_admin.network.find_router(world.owner.router_id) is None


# -- a subnet pool shared by RBAC; a use that starts after the plan ---------------------------


def test_a_pool_a_live_subnet_is_allocated_from_is_kept_with_its_rbac_entry(
    world: World, testbed_admin: Connection
) -> None:
    _, plan, _ = world.first
    later = world.later
    used = (
        f"subnet {later.pool_subnet_id} of network {later.pool_net_id} is allocated from the pool"
    )
    user = world.user.project_id
    pool = decision_on(plan, "network.subnet_pool", later.pool_id)
    assert pool.verdict is Verdict.PROTECT, pool
    assert pool.reason == f"kept: in use by live project {user} ({used})"
    decision = decision_on(plan, "network.rbac_policy", later.pool_rbac_id)
    assert decision.verdict is Verdict.PROTECT, decision
    assert decision.reason == f"kept: in use by live project {user} (grants the use: {used})"
    assert testbed_admin.network.get_rbac_policy(later.pool_rbac_id) is not None
    assert testbed_admin.network.get_subnet_pool(later.pool_id) is not None


def _rows(run: Run) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f"{o['Service']}.{o['Type']}", o["ID"]): o for o in run.json()}


def test_a_use_that_starts_after_the_plan_keeps_its_steps_naming_the_user(
    world: World, testbed_admin: Connection
) -> None:
    """apply's re-check sees L's new port: the steps are kept, not run, and say who."""
    _, plan, apply_run = world.first
    later, user = world.later, world.user.project_id
    rows = _rows(apply_run)
    port = f"port {later.port_id}"
    for rtype, rid in (
        ("network.rbac_policy", later.net_rbac_id),
        ("network.subnet", later.subnet_id),
    ):
        row = rows[(rtype, rid)]
        assert row["Status"] == "kept", row
        assert row["Reason"].startswith(f"kept: in use by live project {user} ("), row
        assert port in row["Reason"], row
    assert rows[("network.network", later.net_id)]["Status"] == "kept"
    failures = _failure_records(world, plan, {later.net_rbac_id, later.subnet_id})
    assert failures == []
    net = testbed_admin.network
    assert net.get_port(later.port_id).network_id == later.net_id
    assert net.get_rbac_policy(later.net_rbac_id) is not None


def test_run_without_a_recheck_the_409s_are_findings_not_a_retry_loop(
    world: World, testbed_admin: Connection
) -> None:
    """The controller's way (the plan just made, no re-check): Neutron refuses, reaper looks."""
    _, plan, _ = world.first
    later, user = world.later, world.user.project_id
    report = _execute_again(world, plan, testbed_admin)
    by_resource = {s.resource.id: report.outcomes[s.id] for s in plan.steps}
    rbac, subnet = by_resource[later.net_rbac_id], by_resource[later.subnet_id]
    for outcome in (rbac, subnet):
        assert outcome.status is OutcomeStatus.KEPT, outcome
        assert outcome.attempts == 1, outcome  # the first apply's re-check sent nothing
        assert outcome.retries == (), outcome
        assert [u["project_id"] for u in outcome.used_by] == [user], outcome
        assert outcome.used_by[0]["id"] == later.port_id
    assert rbac.reason == (
        f"kept: in use by live project {user} (grants the use: port {later.port_id})"
    )
    assert subnet.reason == f"kept: in use by live project {user} (port {later.port_id})"
    with world.operator.store() as store:  # stored with its users, for tombstone show
        stored = store.plans.outcome(
            plan.content_hash, next(s.id for s in plan.steps if s.resource.id == later.subnet_id)
        )
    assert stored is not None and stored.used_by == subnet.used_by
    assert _failure_records(world, plan, {later.net_rbac_id, later.subnet_id}) == []
    net = testbed_admin.network
    assert net.get_port(later.port_id).network_id == later.net_id
    assert net.get_rbac_policy(later.net_rbac_id) is not None


def _execute_again(world: World, plan: Plan, admin: Connection) -> Report:
    """The second network's steps again, as the controller runs a plan it just made."""
    later = world.later
    ids = {later.net_rbac_id, later.subnet_id, later.net_id}
    conf = config.make_conf(["--config-file", str(world.operator.conf_file)])
    with world.operator.store() as store:
        return execute_plan(
            Cloud.of(admin),
            plan,
            load_policies(configured_policy_paths(conf)),
            Settings.from_conf(conf),
            store=store,
            trail=AuditTrail.from_conf(store, conf),
            dry_run=False,
            only={s.id for s in plan.steps if s.resource.id in ids},
            recheck_first=False,
        )


def _failure_records(world: World, plan: Plan, ids: set[str]) -> list[dict[str, Any]]:
    steps = {s.id for s in plan.steps if s.resource.id in ids}
    return [
        r
        for r in world.operator.audit_records()
        if r["outcome"] == "failure" and r["reaper"].get("step_id") in steps
    ]


def test_an_address_scope_a_live_pool_is_in_is_kept_with_its_rbac_entry(
    world: World, testbed_admin: Connection
) -> None:
    _, plan, _ = world.first
    hands, user = world.hands, world.user.project_id
    used = f"subnet pool {hands.user_pool_id} is in the address scope"
    scope = decision_on(plan, "network.address_scope", hands.scope_id)
    assert scope.verdict is Verdict.PROTECT, scope
    assert scope.reason == f"kept: in use by live project {user} ({used})"
    entry = decision_on(plan, "network.rbac_policy", hands.scope_rbac_id)
    assert entry.reason == f"kept: in use by live project {user} (grants the use: {used})"
    assert testbed_admin.network.get_address_scope(hands.scope_id) is not None


def test_a_volume_offered_by_a_pending_transfer_is_kept_for_whoever_accepts_it(
    world: World, testbed_admin: Connection
) -> None:
    """Cinder names no recipient before the transfer is accepted: kept, failing closed."""
    _, plan, _ = world.first
    hands = world.hands
    volume = decision_on(plan, "block_storage.volume", hands.volume_id)
    assert volume.verdict is Verdict.PROTECT, volume
    assert volume.reason == (
        f"kept: in use by live project unknown (pending transfer {hands.transfer_id}: "
        "whoever accepts it takes the volume (the project is known only then))"
    )
    assert testbed_admin.block_storage.get_volume(hands.volume_id).status == "awaiting-transfer"


def test_once_the_live_project_stops_using_them_the_next_plan_reaps_them(
    world: World, testbed_admin: Connection
) -> None:
    lc = world.user.connect()
    lc.compute.delete_server(world.server_id)
    lc.compute.wait_for_delete(lc.compute.get_server(world.server_id), wait=WAIT)
    testbed_admin.network.delete_security_group_rule(world.rule_id)
    later, lnet = world.later, lc.network
    lnet.delete_port(later.port_id)
    lnet.delete_subnet(later.pool_subnet_id)
    lnet.delete_network(later.pool_net_id)
    hands = world.hands
    lnet.delete_subnet_pool(hands.user_pool_id)
    lc.block_storage.accept_transfer(hands.transfer_id, hands.auth_key)
    _, plan, apply_run = _reap(world.operator, world.owner, "second")
    assert apply_run.code == 0, apply_run
    net = testbed_admin.network
    assert net.find_network(world.owner.network_id) is None
    assert net.find_rbac_policy(world.rbac_id) is None
    assert net.find_security_group(world.group_id) is None
    assert testbed_admin.image.find_image(world.image_id) is None
    for rbac in (later.pool_rbac_id, later.net_rbac_id):
        assert net.find_rbac_policy(rbac) is None
    assert net.find_network(later.net_id) is None
    assert net.find_subnet_pool(later.pool_id) is None
    assert net.find_address_scope(hands.scope_id) is None
    assert net.find_rbac_policy(hands.scope_rbac_id) is None
    # The hand-over went through: the volume is L's now, and reaper left it alone.
    handed = testbed_admin.block_storage.get_volume(hands.volume_id)
    assert handed.project_id == world.user.project_id, handed
    assert not [d for d in plan.decisions if d.reason.startswith("kept: in use")]
