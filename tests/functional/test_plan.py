"""``reaper plan`` against a real cloud: what it lists, decides and orders, and what it never does.

A tenant with every core resource type is built by its own user, given a
public image, a shared network (as admin, owned by the tenant) and a volume
its user marked ``reaper:keep``, and then deleted in Keystone. A second
tenant stays alive and holds resources with the same names. A third
tenant's user is deleted while its project lives on. Every ``reaper``
command runs through the fault proxy (without faults), so what reached the
services is counted on their side.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reaper import cloud, config
from reaper.cleanup.discover import DOMAIN_UNKNOWN
from reaper.cleanup.plan import make_plan
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.model import IdentityKind, IdentityRef, Plan, Verdict
from reaper.policy import configured_policy_paths, load_policies
from tests.faultproxy import KINDS, FaultProxy, Faults, Seen
from tests.functional.reaping import (
    PROXIED_CLOUD,
    Operator,
    Run,
    TenantFarm,
    load_plan,
)
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

GUARD_POLICY = "never-touch-shared-or-kept"
#: A user who made a server and a volume in their project, and has a keypair.
USER_SPEC = TenantSpec(
    servers=1,
    volumes=1,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=0,
    keypairs=1,
    security_groups=0,
)
#: What this module builds (the session builds every module's tenants at once).
TENANTS = {"plan-deleted": TenantSpec(), "plan-user": USER_SPEC}


@dataclasses.dataclass
class World:
    """The tenants of this module, what was added to them, and the plan of the deleted one."""

    operator: Operator
    deleted: Tenant
    live: Tenant
    leaver: Tenant
    public_image: str
    shared_network: str
    shared_network_rbac: list[str]
    kept_volume: str
    router_interface: str
    default_group: str
    #: Resources created in the live tenant with the deleted tenant's names.
    namesakes: dict[str, str]
    plan_run: Run
    plan_file: Path
    #: The proxy's record of the ``plan`` run.
    plan_requests: list[Seen]

    @property
    def plan(self) -> Plan:
        return load_plan(self.plan_file)


@pytest.fixture(scope="module")
def operator(
    testbed: Testbed, fault_proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Operator:
    """``reaper`` with a store of this module's own, behind the (unfaulted) proxy."""
    return Operator(tmp_path_factory.mktemp("plan"), fault_proxy, testbed)


@pytest.fixture(scope="module")
def world(
    testbed_admin: Connection,
    tenant_farm: TenantFarm,
    fault_proxy: FaultProxy,
    operator: Operator,
) -> Iterator[World]:
    admin = testbed_admin
    building = tenant_farm.order("plan-deleted", TENANTS["plan-deleted"])
    leaving = tenant_farm.order("plan-user", TENANTS["plan-user"])
    live, deleted, leaver = tenant_farm.live().result(), building.result(), leaving.result()

    # Owned by the deleted project, but used by others: never to be touched.
    image = admin.image.create_image(
        name=f"{deleted.project_name}-public",
        owner=deleted.project_id,
        visibility="public",
        disk_format="raw",
        container_format="bare",
    )
    network = admin.network.create_network(
        name=f"{deleted.project_name}-shared", project_id=deleted.project_id, is_shared=True
    )
    rbac = [r.id for r in admin.network.rbac_policies(object_id=network.id)]
    as_deleted = deleted.connect()
    kept = as_deleted.block_storage.create_volume(
        name=f"{deleted.project_name}-kept", size=1, metadata={"reaper:keep": "evidence"}
    )
    as_deleted.block_storage.wait_for_status(kept, "available", wait=120)

    # The live tenant's user makes resources named like the deleted tenant's.
    as_live, name = live.connect(), deleted.project_name
    namesakes = {
        "network": as_live.network.create_network(name=f"{name}-net").id,
        "security_group": as_live.network.create_security_group(name=f"{name}-sg0").id,
        "volume": as_live.block_storage.create_volume(name=f"{name}-vol0", size=1).id,
        "port": as_live.network.create_port(name=f"{name}-port0", network_id=live.network_id).id,
    }
    # Settled, so that whoever compares the live tenant before and after sees no change.
    as_live.block_storage.wait_for_status(
        as_live.block_storage.get_volume(namesakes["volume"]), "available", wait=120
    )

    (interface,) = admin.network.ports(
        device_id=deleted.router_id, device_owner="network:router_interface"
    )
    (default_group,) = admin.network.security_groups(project_id=deleted.project_id, name="default")
    delete_identity(admin, deleted)
    admin.identity.delete_user(leaver.user_id)

    fault_proxy.clear()
    run, path = operator.plan("project", deleted.project_id)
    requests = fault_proxy.seen()
    assert run.code == 0, run
    yield World(
        operator=operator,
        deleted=deleted,
        live=live,
        leaver=leaver,
        public_image=image.id,
        shared_network=network.id,
        shared_network_rbac=rbac,
        kept_volume=kept.id,
        router_interface=interface.id,
        default_group=default_group.id,
        namesakes=namesakes,
        plan_run=run,
        plan_file=path,
        plan_requests=requests,
    )
    # What the default policy protects, reaper will not reap: the test removes it.
    admin.image.delete_image(image.id, ignore_missing=True)
    admin.network.delete_network(network.id, ignore_missing=True)
    admin.block_storage.delete_volume(kept.id, ignore_missing=True)


def expected_resources(world: World) -> set[tuple[str, str]]:
    """(type, id) of everything the deleted project owns, as its builder recorded it."""
    t = world.deleted
    pid = t.project_id
    return {
        *(("compute.server", i) for i in t.server_ids),
        *(("compute.volume_attachment", f"{s}:{v}") for v, s in t.attachments.items()),
        ("compute.quota", pid),
        *(("block_storage.volume", i) for i in [*t.volume_ids, world.kept_volume]),
        *(("block_storage.snapshot", i) for i in t.snapshot_ids),
        ("block_storage.quota", pid),
        *(("network.floating_ip", i) for i in t.floating_ip_ids),
        *(("network.port", i) for i in [*t.port_ids, *t.server_port_ids.values()]),
        ("network.router", t.router_id),
        ("network.router_interface", world.router_interface),
        ("network.subnet", t.subnet_id),
        *(("network.network", i) for i in [t.network_id, world.shared_network]),
        *(("network.rbac_policy", i) for i in world.shared_network_rbac),
        *(("network.security_group", i) for i in [*t.security_group_ids, world.default_group]),
        ("network.quota", pid),
        *(("image.image", i) for i in [*t.image_ids, world.public_image]),
    }


def protected(world: World) -> set[tuple[str, str]]:
    return {
        ("image.image", world.public_image),
        ("network.network", world.shared_network),
        *(("network.rbac_policy", i) for i in world.shared_network_rbac),
        ("block_storage.volume", world.kept_volume),
    }


def ancestors(plan: Plan) -> dict[str, set[str]]:
    """Every step's transitive dependencies: what must be over before it may start."""
    deps = {s.id: set(s.depends_on) for s in plan.steps}
    found: dict[str, set[str]] = {}

    def visit(sid: str) -> set[str]:
        if sid not in found:
            found[sid] = set(deps[sid])
            for dep in deps[sid]:
                found[sid] |= visit(dep)
        return found[sid]

    for sid in deps:
        visit(sid)
    return found


def delete_step(rtype: str, rid: str) -> str:
    return f"delete:{rtype}:{rid}"


def test_the_plan_lists_exactly_what_the_deleted_project_owns(world: World) -> None:
    listed = {(r.type, r.id) for r in world.plan.resources}

    assert listed == expected_resources(world)
    assert [row["ID"] for row in world.plan_run.json()] != []
    assert {(f"{row['Service']}.{row['Type']}", row["ID"]) for row in world.plan_run.json()} == {
        (t, i) for t, i in expected_resources(world)
    }


def test_everything_unprotected_is_deleted_by_the_default_policy(world: World) -> None:
    plan = world.plan
    decisions = {(d.resource.type, d.resource.id): d for d in plan.decisions}
    stepped = {(s.resource.type, s.resource.id): s for s in plan.steps}

    for ref in expected_resources(world) - protected(world):
        decision = decisions[ref]
        assert decision.verdict is Verdict.ACT, (ref, decision.reason)
        assert [a.name for a in decision.actions] == ["delete"], ref
        if ref[0] == "compute.volume_attachment":
            assert ref not in stepped, "deleting the server detaches its volumes"
        else:
            assert stepped[ref].action == "delete", ref


def test_shared_public_and_kept_resources_are_protected_and_get_no_step(world: World) -> None:
    plan = world.plan
    decisions = {(d.resource.type, d.resource.id): d for d in plan.decisions}
    stepped = {(s.resource.type, s.resource.id) for s in plan.steps}

    for ref in protected(world):
        assert decisions[ref].verdict is Verdict.PROTECT, ref
        assert decisions[ref].policy == GUARD_POLICY, ref
        assert ref not in stepped, ref
    assert "is_shared" in decisions[("network.network", world.shared_network)].reason
    assert "visibility" in decisions[("image.image", world.public_image)].reason
    assert "reaper:keep" in decisions[("block_storage.volume", world.kept_volume)].reason


def test_steps_are_ordered_the_way_the_services_require(world: World) -> None:
    t, plan = world.deleted, world.plan
    after = ancestors(plan)

    def before(first: tuple[str, str], then: tuple[str, str]) -> bool:
        return delete_step(*first) in after[delete_step(*then)]

    interface = ("network.router_interface", world.router_interface)
    for fip in t.floating_ip_ids:
        assert before(("network.floating_ip", fip), interface)
    for volume, server in t.attachments.items():
        assert before(("compute.server", server), ("block_storage.volume", volume))
    for snapshot in t.snapshot_ids:
        (record,) = [r for r in plan.resources if r.id == snapshot]
        volume = record.attributes["volume_id"]
        assert before(("block_storage.snapshot", snapshot), ("block_storage.volume", volume))
    assert before(interface, ("network.router", t.router_id))
    assert before(interface, ("network.subnet", t.subnet_id))
    assert before(("network.subnet", t.subnet_id), ("network.network", t.network_id))
    users = [
        *(("compute.server", s) for s in t.server_ids),
        *(("network.port", p) for p in [*t.port_ids, *t.server_port_ids.values()]),
    ]
    groups = [("network.security_group", g) for g in t.security_group_ids]
    default = ("network.security_group", world.default_group)
    for group in [*groups, default]:
        for user in users:
            assert before(user, group), (user, group)
    for group in groups:
        assert before(group, default)
    quotas = [s.id for s in plan.steps if s.resource.type.endswith(".quota")]
    assert len(quotas) == 3
    for quota in quotas:
        assert after[quota] >= {s.id for s in plan.steps if s.id not in quotas}
    positions = {s.id: n for n, s in enumerate(plan.steps)}
    assert all(positions[d] < positions[s.id] for s in plan.steps for d in s.depends_on)


def test_a_live_tenant_with_the_same_names_is_never_listed(
    world: World, testbed_admin: Connection
) -> None:
    listed_ids = {r.id for r in world.plan.resources}
    live_ids = {
        *world.namesakes.values(),
        *world.live.server_ids,
        *world.live.volume_ids,
        *world.live.port_ids,
        *world.live.floating_ip_ids,
        *world.live.security_group_ids,
        world.live.network_id,
        world.live.subnet_id,
        world.live.router_id,
    }
    names_in_live = {
        n.name for n in testbed_admin.network.networks(project_id=world.live.project_id)
    }

    assert f"{world.deleted.project_name}-net" in names_in_live
    assert listed_ids.isdisjoint(live_ids)
    assert {r.project_id for r in world.plan.resources} == {world.deleted.project_id}


def test_planning_sends_no_mutating_request_to_any_service(world: World) -> None:
    """Counted by the proxy, on the services' side; the token request is not a mutation."""
    mutations = [s for s in world.plan_requests if s.mutating and not s.token_request]
    services = {s.service for s in world.plan_requests}

    assert mutations == []
    assert services >= {"identity", "compute", "block-storage", "network", "image"}
    assert "(0 mutating)" in world.plan_run.err


def test_every_request_reaper_sends_goes_through_the_proxy(
    world: World, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reaper's own counter and the proxy agree: no request took the catalog's direct URLs."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(world.operator.clouds_yaml))
    conf = config.make_conf(["--config-file", str(world.operator.conf_file)])
    conf.set_override("cloud", PROXIED_CLOUD, group=config.SERVICE_CREDENTIALS_GROUP)
    fault_proxy.clear()

    conn = cloud.connect(conf, read_only=True)
    make_plan(
        Cloud.of(conn),
        IdentityRef(IdentityKind.PROJECT, world.deleted.project_id),
        load_policies(configured_policy_paths(conf)),
        Settings.from_conf(conf),
    )
    counted = cloud.counter_of(conn).by_endpoint()
    seen = fault_proxy.seen()

    listeners = fault_proxy.netlocs
    assert counted, "reaper counted no request at all"
    assert {netloc for _, netloc in counted} <= set(listeners)
    for service in set(listeners.values()):
        by_reaper = sum(n for (_, loc), n in counted.items() if listeners.get(loc) == service)
        by_proxy = sum(1 for s in seen if s.service == service)
        assert by_proxy >= by_reaper > 0, service
    assert any(s.token_request for s in seen), "authentication went around the proxy"


def test_a_plan_made_through_a_faulty_cloud_is_the_same_plan(
    world: World, fault_proxy: FaultProxy
) -> None:
    """A fifth of the reads fail (5xx, 409, 429, resets); each is asked again, none is lost."""
    reads = Faults(rate=0.2, kinds=KINDS, methods=frozenset({"GET"}), tokens=True, seed=4)

    with fault_proxy.faulting(reads):
        fault_proxy.clear()
        run, path = world.operator.plan("project", world.deleted.project_id, name="faulty-reads")
        faults = fault_proxy.faulted()

    plan, shown = load_plan(path), world.plan
    assert run.code == 0, run
    assert plan.incomplete == ()
    assert faults, "no read was faulted"
    assert {r.ref for r in plan.resources} == {r.ref for r in shown.resources}
    assert [s.id for s in plan.steps] == [s.id for s in shown.steps]
    assert [(d.resource, d.verdict) for d in plan.decisions] == [
        (d.resource, d.verdict) for d in shown.decisions
    ]


def _listings(seen: list[Seen], project_id: str) -> dict[str, list[Seen]]:
    """The project's listings per service (Keystone's checks left out)."""
    listings: dict[str, list[Seen]] = {}
    for s in seen:
        if project_id in s.path and s.service != "identity":
            listings.setdefault(s.service, []).append(s)
    return listings


def _peak_in_flight(requests: list[Seen]) -> int:
    """The most of these requests the cloud was answering at one moment."""
    edges = sorted(
        [(s.started, 1) for s in requests] + [(s.started + s.elapsed, -1) for s in requests]
    )
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_planning_through_a_slow_cloud_sends_each_services_listings_together(
    world: World,
    fault_proxy: FaultProxy,
    testbed: Testbed,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Every request waits 200 ms; a service's listings must not wait for one another.

    They share the service's ``[executor] *_concurrency`` cap with every other
    request of the process (issue 18's budget), so an operator whose caps
    leave room for them sees them all sent together.

    (Version discovery and Keystone's checks of a new token come first and one
    after another: that part is keystoneauth's, not reaper's.)
    """
    latency = 0.2
    roomy = Operator(
        tmp_path_factory.mktemp("plan-roomy"),
        fault_proxy,
        testbed,
        executor={
            f"{service}_concurrency": 32
            for service in ("compute", "block_storage", "network", "image")
        },
    )

    with fault_proxy.faulting(Faults(latency=latency)):
        fault_proxy.clear()
        run, _ = roomy.plan("project", world.deleted.project_id, name="slow")
        seen = fault_proxy.seen()

    listings = _listings(seen, world.deleted.project_id)
    assert run.code == 0, run
    # Placement's usages are read too: they find allocations that outlived their servers.
    assert set(listings) == {"compute", "block-storage", "network", "image", "placement"}
    for service, requests in listings.items():
        starts = [s.started for s in requests]
        assert max(starts) - min(starts) < latency, (service, sorted(starts))


#: The lookups that follow the listings: who else uses the networks, groups and images.
FOLLOW_UP = re.compile(r"[?&](network_id|remote_group_id|security_groups|image)=")
#: Keystone's answer about the admin project, always protected (``reaper/cleanup/house.py``).
ADMIN_PROJECT = re.compile(r"/domains\?name=|/projects/[^/?]+\?domain_id=|/projects\?domain_id=")


def _rounds(requests: list[Seen]) -> int:
    """How many of these requests went one after another at most (the longest chain of
    requests each sent after the previous one's answer): the round trips they cost."""
    ordered = sorted(requests, key=lambda s: s.started)
    depth: list[int] = []
    for i, s in enumerate(ordered):
        before = [
            depth[j] for j in range(i) if ordered[j].started + ordered[j].elapsed <= s.started
        ]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def test_the_lookups_after_the_listings_go_together_beside_keystones_admin_project(
    world: World,
    fault_proxy: FaultProxy,
    testbed: Testbed,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Who else uses each network, group and image is asked in one round, not one by one.

    They are independent of one another, as Keystone's answer about the admin
    project is of discovery: on a cloud 200 ms away each one sent after the
    previous cost a round trip (issue 18 saw eleven in a row).
    """
    roomy = Operator(
        tmp_path_factory.mktemp("plan-follow-ups"),
        fault_proxy,
        testbed,
        executor={
            f"{service}_concurrency": 32
            for service in ("compute", "block_storage", "network", "image")
        },
    )

    with fault_proxy.faulting(Faults(latency=0.2)):
        fault_proxy.clear()
        run, _ = roomy.plan("project", world.deleted.project_id, name="follow-ups")
        seen = fault_proxy.seen()

    follow_ups = [s for s in seen if FOLLOW_UP.search(s.path)]
    house = [s for s in seen if s.service == "identity" and ADMIN_PROJECT.search(s.path)]
    listings = [s for ss in _listings(seen, world.deleted.project_id).values() for s in ss]
    assert run.code == 0, run
    # Two networks (the tenant's, the shared one) in one listing of their ports, two groups
    # in one listing of the rules naming them and one of their ports, two images.
    paths = sorted(s.path for s in follow_ups)
    assert len(follow_ups) == 5, paths
    assert [p.count("network_id=") for p in paths if "network_id=" in p] == [2], paths
    assert [p.count("remote_group_id=") for p in paths if "remote_group_id=" in p] == [2], paths
    assert [p.count("security_groups=") for p in paths if "security_groups=" in p] == [2], paths
    assert _rounds(follow_ups) == 1, sorted((s.started, s.path) for s in follow_ups)
    assert house, "the admin project was not asked"
    assert min(s.started for s in house) < max(s.started for s in listings)


def test_a_services_listings_fill_its_concurrency_cap_and_never_pass_it(
    world: World, fault_proxy: FaultProxy
) -> None:
    """With the default ``network_concurrency = 8``, Neutron's listings go 8 at once, not fewer."""
    cap = 8

    with fault_proxy.faulting(Faults(latency=0.2)):
        fault_proxy.clear()
        run, _ = world.operator.plan("project", world.deleted.project_id, name="capped")
        seen = fault_proxy.seen()

    network = _listings(seen, world.deleted.project_id)["network"]
    assert run.code == 0, run
    assert len(network) > cap, "too few listings to meet the cap"
    assert _peak_in_flight(network) == cap, sorted((s.started, s.path) for s in network)
    assert _peak_in_flight([s for s in seen if s.service == "network"]) <= cap


def test_a_deleted_users_keypairs_go_but_what_they_made_in_a_live_project_stays(
    world: World, fault_proxy: FaultProxy
) -> None:
    leaver = world.leaver
    fault_proxy.clear()

    run, path = world.operator.plan("user", leaver.user_id, name="user-plan")

    plan = load_plan(path)
    decisions = {(d.resource.type, d.resource.id): d for d in plan.decisions}
    keypairs = {("compute.keypair", f"{leaver.user_id}:{k}") for k in leaver.keypair_names}
    made_in_live_project = {
        ("compute.server", leaver.server_ids[0]),
        ("block_storage.volume", leaver.volume_ids[0]),
    }
    assert run.code == 0, run
    assert set(decisions) == keypairs | made_in_live_project
    for ref in keypairs:
        assert decisions[ref].verdict is Verdict.ACT
    for ref in made_in_live_project:
        assert decisions[ref].verdict is Verdict.SKIP, decisions[ref].reason
    assert {(s.resource.type, s.resource.id, s.action) for s in plan.steps} == {
        (*ref, "delete") for ref in keypairs
    }
    assert {
        r.attributes["reaper_relation"] for r in plan.resources if r.type != "compute.keypair"
    } == {"creator"}
    assert [s for s in fault_proxy.mutations()] == []


def test_a_deleted_users_volumes_are_listed_by_their_user_never_cloud_wide(
    world: World, fault_proxy: FaultProxy
) -> None:
    """Cinder filters on ``user_id`` for an admin: a user deletion costs the user's volumes."""
    leaver = world.leaver
    fault_proxy.clear()

    run, path = world.operator.plan("user", leaver.user_id, name="user-volumes")

    cinder = [
        s.path
        for s in fault_proxy.seen()
        if s.service == "block-storage" and re.search(r"/(volumes|snapshots)/detail", s.path)
    ]
    assert run.code == 0, run
    assert ("block_storage.volume", leaver.volume_ids[0]) in {
        (r.type, r.id) for r in load_plan(path).resources
    }
    assert len(cinder) == 2, cinder
    for listing in cinder:
        assert f"user_id={leaver.user_id}" in listing and "all_tenants" in listing, listing


@pytest.mark.parametrize("kind", ["project", "user"])
def test_planning_for_an_identity_that_still_exists_is_refused(
    world: World, fault_proxy: FaultProxy, kind: str
) -> None:
    identity = world.live.project_id if kind == "project" else world.live.user_id
    fault_proxy.clear()

    run, path = world.operator.plan(kind, identity, name=f"refused-{kind}")

    assert run.code == 4, run
    assert "still exists and is enabled" in run.err
    assert not path.exists()
    assert fault_proxy.mutations() == []


def test_planning_is_audited_and_the_trail_verifies(world: World) -> None:
    records = world.operator.audit_records()
    plan = world.plan
    evaluated = {
        r["target"]["id"]: r["reaper"]["extra"]["verdict"]
        for r in records
        if r["action"] == "evaluate"
        and r["reaper"].get("plan", {}).get("hash") == plan.content_hash
        and "verdict" in r["reaper"].get("extra", {})
    }
    summaries = [
        r
        for r in records
        if r["action"] == "evaluate"
        and r["target"]["id"] == world.deleted.project_id
        and r["reaper"].get("plan", {}).get("hash") == plan.content_hash
        and "steps" in r["reaper"].get("extra", {})
    ]

    assert evaluated == {d.resource.id: d.verdict.value for d in plan.decisions}
    assert len(summaries) == 1
    assert summaries[0]["reaper"]["extra"]["steps"] == len(plan.steps)
    verify = world.operator("audit", "verify")
    assert verify.code == 0, verify


BROKEN_POLICIES = {
    "bad-yaml": (
        "version: 1\npolicies:\n  - name: x\n    triggers: [identity.project.deleted\n"
        "    resources: [compute.server]\n",
        5,
        "expected ',' or ']'",
    ),
    "unknown-operator": (
        "version: 1\npolicies:\n  - name: x\n    triggers: [identity.project.deleted]\n"
        "    resources: [compute.server]\n    filters:\n"
        "      - {key: status, op: resembles, value: ACTIVE}\n    actions: [delete]\n",
        7,
        "'resembles' is not one of",
    ),
    "wrong-type": (
        "version: 1\npolicies:\n  - name: x\n    triggers: identity.project.deleted\n"
        "    resources: [compute.server]\n    actions: [delete]\n",
        4,
        "expected a list, found a string",
    ),
    "duplicate-key": (
        "version: 1\npolicies:\n  - name: x\n    triggers: [identity.project.deleted]\n"
        "    resources: [compute.server]\n    actions: [delete]\n    actions: [stop]\n",
        7,
        "duplicate key 'actions' (first defined on line 6)",
    ),
    "protect-on-missing-field": (
        "version: 1\npolicies:\n  - name: x\n    triggers: [identity.project.deleted]\n"
        "    resources: [network.network]\n    protect:\n      - {key: flavor_id, value: abc}\n",
        7,
        "tests field flavor_id, which network.network does not have",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_POLICIES))
def test_a_broken_policy_file_is_reported_with_its_line(
    operator: Operator, tmp_path: Path, case: str
) -> None:
    text, line, message = BROKEN_POLICIES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)

    run = operator("policy", "validate", str(path))

    assert run.code == 1, run
    (error,) = [line_ for line_ in run.out.splitlines() if line_.startswith(f"{path}:{line}:")]
    assert message in error


def test_a_broken_policy_file_stops_plan_before_any_request(
    world: World, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    text, line, _ = BROKEN_POLICIES["duplicate-key"]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    fault_proxy.clear()

    run, saved = world.operator.plan(
        "project", world.deleted.project_id, policy=path, name="broken-policy-plan"
    )

    assert run.code == 1, run
    assert f"{path}:{line}:" in run.err
    assert not saved.exists()
    assert fault_proxy.seen() == []


def test_a_domain_reaper_never_saw_the_members_of_plans_as_incomplete(
    world: World, testbed_admin: Connection
) -> None:
    domain = testbed_admin.identity.create_domain(name=f"plan-unknown-{secrets.token_hex(3)}")
    testbed_admin.identity.update_domain(domain, is_enabled=False)
    testbed_admin.identity.delete_domain(domain)

    run, path = world.operator.plan("domain", domain.id, name="unknown-domain")

    assert run.code == 5, run
    assert "reaper has seen no project or user of this domain" in run.out + run.err
    assert load_plan(path).incomplete == (DOMAIN_UNKNOWN,)
