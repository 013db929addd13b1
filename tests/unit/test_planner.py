"""The planner: the order real OpenStack needs, and refusals instead of failures."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaper import planner
from reaper.model import (
    ActionSpec,
    Decision,
    Edge,
    IdentityKind,
    IdentityRef,
    Resource,
    ResourceRef,
    Step,
    Verdict,
)

P = IdentityRef(IdentityKind.PROJECT, "p1")
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)


def res(
    rtype: str,
    rid: str,
    *edges: tuple[str, str, str],
    name: str | None = None,
    attributes: dict[str, object] | None = None,
) -> Resource:
    return Resource(
        type=rtype,
        id=rid,
        name=name,
        project_id="p1",
        attributes=attributes or {},
        edges=tuple(Edge(rel, ResourceRef(t, i)) for rel, t, i in edges),
    )


def act(r: Resource, *actions: str | ActionSpec) -> Decision:
    specs = tuple(a if isinstance(a, ActionSpec) else ActionSpec(a) for a in actions)
    return Decision(r.ref, Verdict.ACT, specs or (ActionSpec("delete"),), "default", "rule", "ok")


def protect(r: Resource) -> Decision:
    return Decision(r.ref, Verdict.PROTECT, (), "default", "keep", "tagged reaper:keep")


def skip(r: Resource) -> Decision:
    return Decision(r.ref, Verdict.SKIP, (), None, None, "no policy")


def tenant() -> list[Resource]:
    return [
        res("network.network", "net"),
        res("network.subnet", "sub", ("network", "network.network", "net")),
        res("network.router", "r"),
        res(
            "network.router_interface",
            "ri",
            ("router", "network.router", "r"),
            ("subnet", "network.subnet", "sub"),
            ("floating_ip", "network.floating_ip", "fip"),
        ),
        res("compute.server", "vm"),
        res(
            "network.port",
            "port",
            ("device", "compute.server", "vm"),
            ("network", "network.network", "net"),
            ("subnet", "network.subnet", "sub"),
            ("security_group", "network.security_group", "sg"),
        ),
        res(
            "network.floating_ip",
            "fip",
            ("port", "network.port", "port"),
            ("router", "network.router", "r"),
        ),
        res("block_storage.volume", "vol"),
        attachment("att", "vol"),
        res("block_storage.snapshot", "snap", ("volume", "block_storage.volume", "vol")),
        res("network.security_group", "sg", name="web"),
        res("network.security_group", "sgd", name="default"),
        res("compute.quota", "p1"),
        res("network.quota", "p1"),
    ]


def attachment(
    rid: str, volume: str, *, delete_on_termination: bool | None = False, root: bool | None = False
) -> Resource:
    """A volume attached to server ``vm``, as Nova describes it."""
    return res(
        "compute.volume_attachment",
        rid,
        ("server", "compute.server", "vm"),
        ("volume", "block_storage.volume", volume),
        attributes={
            "server_id": "vm",
            "volume_id": volume,
            "delete_on_termination": delete_on_termination,
            "is_root_volume": root,
        },
    )


def plan_for(resources, decide=act):
    return planner.build_plan(P, resources, [decide(r) for r in resources], now=NOW)


def position(plan) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(plan.steps)}


def before(plan, first: str, then: str) -> bool:
    """``then`` transitively depends on ``first``."""
    by_id = {s.id: s for s in plan.steps}
    todo, seen = [then], set()
    while todo:
        for dep in by_id[todo.pop()].depends_on:
            if dep == first:
                return True
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return False


def d(rtype: str, rid: str, action: str = "delete") -> str:
    return f"{action}:{rtype}:{rid}"


def test_the_order_real_openstack_needs() -> None:
    plan = plan_for(tenant())
    pairs = [
        (d("network.floating_ip", "fip"), d("network.router_interface", "ri")),
        (d("network.router_interface", "ri"), d("network.router", "r")),
        (d("network.router_interface", "ri"), d("network.subnet", "sub")),
        (d("compute.server", "vm"), d("block_storage.volume", "vol")),
        (d("block_storage.snapshot", "snap"), d("block_storage.volume", "vol")),
        (d("compute.server", "vm"), d("network.port", "port")),
        (d("network.port", "port"), d("network.subnet", "sub")),
        (d("network.subnet", "sub"), d("network.network", "net")),
        (d("network.port", "port"), d("network.security_group", "sg")),
        (d("compute.server", "vm"), d("network.security_group", "sgd")),
        (d("network.security_group", "sg"), d("network.security_group", "sgd")),
        (d("network.network", "net"), d("compute.quota", "p1")),
        (d("network.security_group", "sgd"), d("network.quota", "p1")),
    ]
    for first, then in pairs:
        assert before(plan, first, then), f"{first} should come before {then}"
    pos = position(plan)
    for step in plan.steps:
        for dep in step.depends_on:
            assert pos[dep] < pos[step.id]


def test_a_servers_floating_ip_is_released_once_the_server_is_gone() -> None:
    # As project_cleanup does: released while the server lives, the address would make
    # Nova refresh the server's network information just as its deletion needs Neutron.
    plan = plan_for(tenant())
    fip, vm = d("network.floating_ip", "fip"), d("compute.server", "vm")
    assert vm in next(s for s in plan.steps if s.id == fip).depends_on
    assert before(plan, vm, d("network.router_interface", "ri"))


def test_a_floating_ip_on_a_port_of_no_server_that_goes_holds_nothing_back() -> None:
    # The server stays: its address still goes, and nothing waits on a server step.
    plan = plan_for(tenant(), decide=lambda r: protect(r) if r.type == "compute.server" else act(r))
    assert d("compute.server", "vm") not in {s.id for s in plan.steps}
    fip = next(s for s in plan.steps if s.id == d("network.floating_ip", "fip"))
    assert not fip.depends_on


def test_no_detach_step_when_the_server_is_deleted() -> None:
    plan = plan_for(tenant())
    assert not [s for s in plan.steps if s.resource.type == "compute.volume_attachment"]


def test_a_volume_attached_to_a_live_unprotected_server_is_detached_through_nova() -> None:
    resources = tenant()

    def decide(r: Resource) -> Decision:
        return skip(r) if r.type == "compute.server" else act(r)

    plan = plan_for(resources, decide)
    assert before(plan, d("compute.volume_attachment", "att"), d("block_storage.volume", "vol"))


def test_a_volume_attached_to_a_protected_server_is_not_touched() -> None:
    def decide(r: Resource) -> Decision:
        return protect(r) if r.type == "compute.server" else act(r)

    plan = plan_for(tenant(), decide)
    ids = {s.id for s in plan.steps}
    assert d("block_storage.volume", "vol") not in ids
    assert d("compute.volume_attachment", "att") not in ids
    # The snapshot is still the deleted project's and nothing needs it.
    assert d("block_storage.snapshot", "snap") in ids
    # The server's port stays with it, so its subnet, network and group stay too.
    for kept in ("network.port:port", "network.subnet:sub", "network.network:net"):
        assert f"delete:{kept}" not in ids
    vol = next(x for x in plan.decisions if x.resource.id == "vol")
    assert vol.verdict is Verdict.SKIP and "stays" in vol.reason


# -- kept volumes on servers that go: Nova deletes a volume with its server when -------
# -- delete_on_termination says so, so the planner detaches it first or keeps the server.


def kept_volume_tenant(**attachment_kwargs: bool | None) -> list[Resource]:
    """The tenant with its attached volume ``vol`` kept, attached as given."""
    return [attachment("att", "vol", **attachment_kwargs) if r.id == "att" else r for r in tenant()]


def keep_volume(r: Resource) -> Decision:
    return protect(r) if r.id == "vol" else act(r)


def decision_of(plan, rid: str) -> Decision:
    return next(x for x in plan.decisions if x.resource.id == rid)


def test_a_kept_data_volume_nova_would_delete_is_detached_before_its_server_goes() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=True), keep_volume)
    detach = d("compute.volume_attachment", "att")
    assert before(plan, detach, d("compute.server", "vm"))
    assert d("block_storage.volume", "vol") not in {s.id for s in plan.steps}
    step = next(s for s in plan.steps if s.id == detach)
    assert "delete_on_termination" in step.reason and "block_storage.volume:vol" in step.reason
    planner.validate(plan.steps)


def test_a_kept_root_volume_keeps_its_server_and_the_plan_says_why() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=True, root=True), keep_volume)
    ids = {s.id for s in plan.steps}
    assert d("compute.server", "vm") not in ids
    assert d("compute.volume_attachment", "att") not in ids
    server = decision_of(plan, "vm")
    assert server.verdict is Verdict.SKIP
    assert "root volume" in server.reason and "block_storage.volume:vol" in server.reason
    # What the kept server uses stays with it; the rest of the project still goes.
    assert d("network.port", "port") not in ids
    assert d("network.floating_ip", "fip") in ids


def test_an_attachment_nova_does_not_say_is_not_the_root_is_treated_as_the_root() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=True, root=None), keep_volume)
    assert decision_of(plan, "vm").verdict is Verdict.SKIP
    assert d("compute.server", "vm") not in {s.id for s in plan.steps}


def test_an_unknown_delete_on_termination_is_treated_as_true() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=None), keep_volume)
    assert before(plan, d("compute.volume_attachment", "att"), d("compute.server", "vm"))


def test_a_kept_volume_kept_on_termination_needs_no_detach_and_the_plan_says_so() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=False, root=True), keep_volume)
    ids = {s.id for s in plan.steps}
    assert d("compute.server", "vm") in ids
    assert d("compute.volume_attachment", "att") not in ids
    att = decision_of(plan, "att")
    assert att.verdict is Verdict.SKIP
    assert "delete_on_termination is false" in att.reason
    assert "block_storage.volume:vol" in att.reason


def test_another_projects_volume_on_a_deleted_server_is_detached_first() -> None:
    # Only the server's attachment names the volume: Cinder listed it under another project.
    resources = [r for r in kept_volume_tenant(delete_on_termination=True) if r.id != "vol"]
    resources = [r for r in resources if r.id != "snap"]
    plan = plan_for(resources)
    assert before(plan, d("compute.volume_attachment", "att"), d("compute.server", "vm"))
    assert "not among" in next(s for s in plan.steps if s.resource.id == "att").reason


def test_another_projects_root_volume_keeps_the_server() -> None:
    resources = [
        r
        for r in kept_volume_tenant(delete_on_termination=True, root=True)
        if r.id not in ("vol", "snap")
    ]
    plan = plan_for(resources)
    assert d("compute.server", "vm") not in {s.id for s in plan.steps}


def test_a_volume_that_stays_for_another_reason_is_detached_too() -> None:
    # The kept snapshot keeps its volume, so Nova must not delete the volume either.
    def decide(r: Resource) -> Decision:
        return protect(r) if r.id == "snap" else act(r)

    plan = plan_for(kept_volume_tenant(delete_on_termination=True), decide)
    assert before(plan, d("compute.volume_attachment", "att"), d("compute.server", "vm"))


def test_the_detach_is_planned_even_when_no_policy_acts_on_attachments() -> None:
    def decide(r: Resource) -> Decision:
        if r.id == "att":
            return skip(r)
        return keep_volume(r)

    plan = plan_for(kept_volume_tenant(delete_on_termination=True), decide)
    assert before(plan, d("compute.volume_attachment", "att"), d("compute.server", "vm"))
    assert decision_of(plan, "att").verdict is Verdict.ACT


def test_a_protected_attachment_keeps_the_server_rather_than_lose_the_volume() -> None:
    def decide(r: Resource) -> Decision:
        return protect(r) if r.id in ("att", "vol") else act(r)

    plan = plan_for(kept_volume_tenant(delete_on_termination=True), decide)
    assert d("compute.server", "vm") not in {s.id for s in plan.steps}
    assert decision_of(plan, "vm").verdict is Verdict.SKIP


def test_a_volume_that_goes_too_is_not_detached_first() -> None:
    plan = plan_for(kept_volume_tenant(delete_on_termination=True))
    assert d("compute.volume_attachment", "att") not in {s.id for s in plan.steps}
    assert before(plan, d("compute.server", "vm"), d("block_storage.volume", "vol"))


def test_a_kept_volume_on_a_server_that_stays_is_left_attached() -> None:
    def decide(r: Resource) -> Decision:
        if r.type == "compute.server":
            return skip(r)
        return keep_volume(r)

    plan = plan_for(kept_volume_tenant(delete_on_termination=True), decide)
    assert d("compute.volume_attachment", "att") not in {s.id for s in plan.steps}


def test_the_detach_waits_for_what_the_server_gets_first_and_for_its_grace() -> None:
    week = dt.timedelta(days=7)

    def decide(r: Resource) -> Decision:
        if r.type == "compute.server":
            return act(r, ActionSpec("quarantine"), ActionSpec("delete", after=week))
        return keep_volume(r)

    plan = plan_for(kept_volume_tenant(delete_on_termination=True), decide)
    detach = d("compute.volume_attachment", "att")
    assert before(plan, d("compute.server", "vm", "quarantine"), detach)
    assert before(plan, detach, d("compute.server", "vm"))
    assert planner.due_at(plan, detach) == NOW + week


def test_a_volume_kept_since_the_plan_keeps_the_server_its_plan_deletes() -> None:
    # Shown when nothing was kept: the server goes, and the volume with it.
    resources = kept_volume_tenant(delete_on_termination=True)
    shown = plan_for(resources)
    # Re-checked after the volume was tagged reaper:keep.
    now = planner.decisions_now(resources, [keep_volume(r) for r in resources], shown.steps)
    server = next(x for x in now if x.resource.id == "vm")
    assert server.verdict is Verdict.SKIP and "plan again" in server.reason
    # A plan made with the detach in it runs as shown.
    again = plan_for(resources, keep_volume)
    now = planner.decisions_now(resources, [keep_volume(r) for r in resources], again.steps)
    assert next(x for x in now if x.resource.id == "vm").verdict is Verdict.ACT


def test_re_checking_sees_what_a_plan_made_now_would_keep() -> None:
    resources = kept_volume_tenant(delete_on_termination=True, root=True)
    shown = plan_for(resources)
    now = planner.decisions_now(resources, [keep_volume(r) for r in resources], shown.steps)
    server = next(x for x in now if x.resource.id == "vm")
    assert server.verdict is Verdict.SKIP and "root volume" in server.reason


def test_a_kept_snapshot_keeps_its_volume() -> None:
    def decide(r: Resource) -> Decision:
        return protect(r) if r.id == "snap" else act(r)

    plan = plan_for(tenant(), decide)
    vol = next(x for x in plan.decisions if x.resource.id == "vol")
    assert vol.verdict is Verdict.SKIP
    assert "block_storage.snapshot:snap" in vol.reason
    assert d("block_storage.volume", "vol") not in {s.id for s in plan.steps}


def test_protection_of_a_network_covers_its_subnets() -> None:
    def decide(r: Resource) -> Decision:
        return protect(r) if r.type == "network.network" else act(r)

    plan = plan_for(tenant(), decide)
    sub = next(x for x in plan.decisions if x.resource.id == "sub")
    assert sub.verdict is Verdict.PROTECT
    assert "inside protected network.network:net" in sub.reason
    # The project's own port on the shared network is still removed.
    assert d("network.port", "port") in {s.id for s in plan.steps}


def test_a_kept_floating_ip_keeps_the_router_interface_it_needs() -> None:
    def decide(r: Resource) -> Decision:
        return protect(r) if r.type == "network.floating_ip" else act(r)

    ids = {s.id for s in plan_for(tenant(), decide).steps}
    assert d("network.router_interface", "ri") not in ids
    assert d("network.router", "r") not in ids


def test_several_actions_on_one_resource_run_in_policy_order() -> None:
    vm = res("compute.server", "vm")
    decision = act(
        vm,
        ActionSpec("evidence_snapshot", {"retention": "90d"}),
        ActionSpec("quarantine"),
        ActionSpec("delete", after=dt.timedelta(days=7)),
    )
    plan = planner.build_plan(P, [vm], [decision], now=NOW)
    assert [s.action for s in plan.steps] == ["evidence_snapshot", "quarantine", "delete"]
    assert plan.steps[2].depends_on == (plan.steps[1].id,)
    assert plan.steps[2].after == dt.timedelta(days=7)
    assert plan.steps[0].params == {"retention": "90d"}


def test_skipped_and_protected_resources_get_no_steps_but_stay_in_the_plan() -> None:
    resources = tenant()
    plan = plan_for(resources, skip)
    assert plan.steps == ()
    assert len(plan.decisions) == len(resources)


def test_the_plan_is_deterministic_whatever_the_input_order() -> None:
    resources = tenant()
    expected = plan_for(resources)
    for seed in range(5):
        shuffled = resources[:]
        random.Random(seed).shuffle(shuffled)
        again = plan_for(shuffled)
        assert again.content_hash == expected.content_hash


def test_a_resource_without_a_decision_is_an_error() -> None:
    r = res("compute.server", "vm")
    with pytest.raises(planner.PlanError, match="no decision"):
        planner.build_plan(P, [r], [], now=NOW)


def test_cycles_and_missing_dependencies_are_reported_not_looped_on() -> None:
    ref = ResourceRef("compute.server", "a")
    a = Step("a", "delete", ref, depends_on=("b",))
    b = Step("b", "delete", ref, depends_on=("a",))
    with pytest.raises(planner.PlanError, match="cycle"):
        planner.validate([a, b])
    with pytest.raises(planner.PlanError, match="not in the plan"):
        planner.validate([a])
    with pytest.raises(planner.PlanError, match="twice"):
        planner.validate([Step("a", "delete", ref), Step("a", "delete", ref)])


def test_waves_group_independent_steps() -> None:
    plan = plan_for(tenant())
    waves = planner.waves(plan.steps)
    assert [s.id for s in waves[0]] == sorted(
        [s.id for s in waves[0]], key=lambda i: position(plan)[i]
    )
    first = {s.id for s in waves[0]}
    # The server first, the floating IP on its port in the next wave.
    assert d("compute.server", "vm") in first and d("network.floating_ip", "fip") not in first
    assert d("network.floating_ip", "fip") in {s.id for s in waves[1]}
    assert all(not s.depends_on for s in waves[0])
    assert {s.id for s in waves[-1]} == {d("compute.quota", "p1"), d("network.quota", "p1")}


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_mix_of_verdicts_gives_a_valid_dag(data) -> None:
    resources = tenant()
    verdicts = data.draw(
        st.lists(
            st.sampled_from([act, skip, protect]), min_size=len(resources), max_size=len(resources)
        )
    )
    decisions = [v(r) for v, r in zip(verdicts, resources, strict=True)]
    plan = planner.build_plan(P, resources, decisions, now=NOW)
    planner.validate(plan.steps)
    kept = {x.resource for x in plan.decisions if x.verdict is not Verdict.ACT}
    for step in plan.steps:
        assert step.resource not in kept
    # Nothing a staying resource uses is ever removed.
    by_ref = {r.ref: r for r in resources}
    removed = {s.resource for s in plan.steps if s.action == "delete"}
    for ref in kept:
        for edge in by_ref[ref].edges:
            if edge.relation in planner.SOURCE_FIRST:
                assert edge.target not in removed, (ref, edge)


def test_pools_scopes_and_qos_policies_go_after_what_uses_them() -> None:
    resources = [
        res("network.address_scope", "as"),
        res("network.subnet_pool", "pool", ("address_scope", "network.address_scope", "as")),
        res("network.qos_policy", "qos"),
        res("network.network", "net", ("qos_policy", "network.qos_policy", "qos")),
        res(
            "network.subnet",
            "sub",
            ("network", "network.network", "net"),
            ("subnet_pool", "network.subnet_pool", "pool"),
        ),
        res("network.rbac_policy", "rbac", ("object", "network.subnet_pool", "pool")),
    ]
    plan = plan_for(resources)
    for first, then in [
        (d("network.subnet", "sub"), d("network.subnet_pool", "pool")),
        (d("network.subnet_pool", "pool"), d("network.address_scope", "as")),
        (d("network.rbac_policy", "rbac"), d("network.subnet_pool", "pool")),
        (d("network.network", "net"), d("network.qos_policy", "qos")),
    ]:
        assert before(plan, first, then), f"{first} should come before {then}"


def test_the_rbac_entry_of_a_kept_pool_is_kept_with_it() -> None:
    pool = res("network.subnet_pool", "pool")
    entry = res("network.rbac_policy", "rbac", ("object", "network.subnet_pool", "pool"))
    plan = plan_for([pool, entry], decide=lambda r: protect(r) if r is pool else act(r))
    assert plan.steps == ()
