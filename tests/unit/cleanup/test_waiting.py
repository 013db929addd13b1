"""Waiting: what is kept for a live project's use, and what that makes of a tombstone. Pure."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from reaper.cleanup import settle, waiting
from reaper.executor import Report
from reaper.executor.contract import Precheck
from reaper.executor.rules import before_running
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Outcome,
    OutcomeStatus,
    Plan,
    Resource,
    ResourceRef,
    Step,
    TombstoneState,
    Verdict,
)

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)
V = IdentityRef(IdentityKind.PROJECT, "v")
NET = ResourceRef("network.network", "net-1")
SUBNET = ResourceRef("network.subnet", "sub-1")
ROUTER = ResourceRef("network.router", "r-1")
QUOTA = ResourceRef("network.quota", "v")
GROUP = ResourceRef("network.security_group", "sg-1")
USE = {
    "project_id": "l",
    "type": "network.port",
    "id": "p-1",
    "detail": "port p-1 on server s-1",
    "kind": "use",
}
KEPT_REASON = "kept: in use by live project l (port p-1 on server s-1)"


def resource(ref: ResourceRef, *, used: bool = False, shared: bool = False) -> Resource:
    attrs: dict[str, Any] = {
        "in_use_by_live_project": used,
        "shared_with_live_project": shared,
        "reaper_used_by": [USE] if used else [],
    }
    return Resource(type=ref.type, id=ref.id, name=f"name-{ref.id}", attributes=attrs)


def act(ref: ResourceRef) -> Decision:
    return Decision(ref, Verdict.ACT, (ActionSpec("delete"),), policy="p", reason="orphan")


def step(ref: ResourceRef, *deps: str) -> Step:
    return Step(id=f"delete:{ref.type}:{ref.id}", action="delete", resource=ref, depends_on=deps)


def plan_with(decisions: list[Decision], resources: list[Resource], steps: list[Step]) -> Plan:
    return Plan(
        identity=V,
        created_at=NOW,
        resources=tuple(resources),
        decisions=tuple(decisions),
        steps=tuple(steps),
    )


def kept_network_plan() -> Plan:
    """V's network used by L's port: kept, its subnet inside it too; the router and quota go."""
    return plan_with(
        [
            Decision(NET, Verdict.PROTECT, policy="default", rule="r", reason=KEPT_REASON),
            Decision(
                SUBNET,
                Verdict.PROTECT,
                policy="default",
                reason=f"inside protected {NET}: {KEPT_REASON}",
            ),
            act(ROUTER),
            act(QUOTA),
        ],
        [resource(NET, used=True), resource(SUBNET), resource(ROUTER), resource(QUOTA)],
        [step(ROUTER), step(QUOTA, step(ROUTER).id)],
    )


def done(plan: Plan, **statuses: OutcomeStatus) -> Report:
    outcomes = {s.id: Outcome(s.id, OutcomeStatus.DONE) for s in plan.steps}
    for sid, status in statuses.items():
        outcomes[sid] = Outcome(sid, status, "409: in use by live project l")
    return Report(plan.content_hash, outcomes, dry_run=False, total=len(outcomes))


class TestWhatIsKeptForLiveUse:
    def test_a_resource_a_live_project_uses_and_what_it_contains_are_kept(self) -> None:
        kept = waiting.kept(kept_network_plan())
        assert [k.ref for k in kept] == [NET, SUBNET]  # in the plan's order
        network = next(k for k in kept if k.ref == NET)
        assert network.projects == ("l",)
        assert network.users[0]["detail"] == "port p-1 on server s-1"
        assert network.as_dict()["name"] == "name-net-1"

    def test_a_resource_kept_for_another_reason_does_not_wait(self) -> None:
        tagged = Decision(
            NET, Verdict.PROTECT, policy="default", rule="tagged 'reaper:keep'", reason="tag"
        )
        plan = plan_with([tagged], [resource(NET, used=True)], [])
        assert waiting.kept(plan) == ()

    def test_a_policy_keeping_grants_makes_the_grant_wait(self) -> None:
        rule = "shared_with_live_project == true"
        grant = Decision(NET, Verdict.PROTECT, policy="strict", rule=rule, reason="protected")
        [kept] = waiting.kept(plan_with([grant], [resource(NET, shared=True)], []))
        assert kept.for_grant

    def test_a_step_kept_when_it_was_about_to_run_waits_too(self) -> None:
        plan = kept_network_plan()
        router = step(ROUTER).id
        kept = waiting.kept(plan, done(plan, **{router: OutcomeStatus.KEPT}).outcomes)
        assert [(k.ref, k.step_id) for k in kept] == [(NET, None), (SUBNET, None), (ROUTER, router)]
        assert kept[-1].users == ()

    def test_a_step_kept_at_run_time_names_who_the_service_said_uses_it(self) -> None:
        plan = kept_network_plan()
        router = step(ROUTER).id
        outcomes = dict(done(plan).outcomes)
        outcomes[router] = Outcome(router, OutcomeStatus.KEPT, KEPT_REASON, used_by=(USE,))
        [*_, kept] = waiting.kept(plan, outcomes)
        assert (kept.ref, kept.users, kept.projects) == (ROUTER, (USE,), ("l",))


class TestTheTombstoneAfterARun:
    def test_everything_done_but_a_kept_network_means_waiting_not_complete(self) -> None:
        plan = kept_network_plan()
        state, changes = settle.after_run(done(plan), plan, attempts=1, now=NOW)
        assert state is TombstoneState.WAITING
        assert changes["next_attempt_at"] is None and changes["release"]
        assert "waiting: 2 kept while in use by live project l" in changes["reason"]
        assert "2 done" in changes["reason"]

    def test_nothing_kept_is_complete(self) -> None:
        plan = dataclasses.replace(
            kept_network_plan(), decisions=(act(NET), act(SUBNET), act(ROUTER), act(QUOTA))
        )
        state, _ = settle.after_run(done(plan), plan, attempts=1, now=NOW)
        assert state is TombstoneState.COMPLETE

    def test_a_failure_beside_a_kept_one_is_partial_and_retried(self) -> None:
        plan = kept_network_plan()
        report = done(plan, **{step(ROUTER).id: OutcomeStatus.FAILED})
        state, changes = settle.after_run(report, plan, attempts=1, now=NOW)
        assert state is TombstoneState.PARTIAL and changes["next_attempt_at"] > NOW

    def test_a_step_kept_at_run_time_makes_it_wait(self) -> None:
        plan = kept_network_plan()
        report = done(plan, **{step(ROUTER).id: OutcomeStatus.KEPT})
        state, _ = settle.after_run(report, plan, attempts=1, now=NOW)
        assert state is TombstoneState.WAITING

    def test_waiting_is_neither_final_nor_claimable(self) -> None:
        from reaper.store import CLAIMABLE

        assert not TombstoneState.WAITING.final
        assert TombstoneState.WAITING not in CLAIMABLE


class TestDependantsOfAKeptStep:
    def _fate(self, dependant: Step, *deps: tuple[str, OutcomeStatus]) -> Outcome | None:
        outcomes = {sid: Outcome(sid, status, "in use by live project l") for sid, status in deps}
        return before_running(
            dependant,
            outcomes,
            dry_run=False,
            created_at=NOW,
            now=lambda: NOW,
            check=Precheck.PRESENT,
        )

    def test_a_true_dependant_waits_with_it(self) -> None:
        net = step(NET).id
        fate = self._fate(step(GROUP, net), (net, OutcomeStatus.KEPT))
        assert fate is not None and fate.status is OutcomeStatus.KEPT
        assert fate.reason.startswith(f"waits for {net}, kept: ")

    def test_a_quota_release_does_not_wait_for_it(self) -> None:
        net, router = step(NET).id, step(ROUTER).id
        fate = self._fate(
            step(QUOTA, net, router), (net, OutcomeStatus.KEPT), (router, OutcomeStatus.DONE)
        )
        assert fate is None  # it runs

    def test_a_quota_release_still_waits_for_a_failure(self) -> None:
        net, router = step(NET).id, step(ROUTER).id
        fate = self._fate(
            step(QUOTA, net, router), (net, OutcomeStatus.KEPT), (router, OutcomeStatus.FAILED)
        )
        assert fate is not None and fate.status is OutcomeStatus.BLOCKED
        assert router in fate.reason

    def test_kept_and_deferred_dependencies_defer_it(self) -> None:
        net, router = step(NET).id, step(ROUTER).id
        fate = self._fate(
            step(GROUP, net, router), (net, OutcomeStatus.KEPT), (router, OutcomeStatus.DEFERRED)
        )
        assert fate is not None and fate.status is OutcomeStatus.DEFERRED


class TestTheSweepsRecheck:
    def test_a_kept_resource_no_live_project_uses_any_more_is_freed(self) -> None:
        kept = waiting.kept(kept_network_plan())
        assert waiting.still_used(kept, {NET: resource(NET), SUBNET: resource(SUBNET)}) == ()

    def test_a_grant_that_outlives_the_use_does_not_keep_it_waiting(self) -> None:
        kept = waiting.kept(kept_network_plan())
        fresh = {NET: resource(NET, shared=True), SUBNET: resource(SUBNET)}
        assert waiting.still_used(kept, fresh) == ()

    def test_one_still_used_keeps_what_it_contains(self) -> None:
        kept = waiting.kept(kept_network_plan())
        fresh = {NET: resource(NET, used=True), SUBNET: resource(SUBNET)}
        assert [k.ref for k in waiting.still_used(kept, fresh)] == [NET, SUBNET]

    def test_a_kept_resource_gone_meanwhile_is_freed(self) -> None:
        kept = waiting.kept(kept_network_plan())
        assert waiting.still_used(kept, {}) == ()
