"""The re-check before the first step: one fresh discovery, judged for every step at once."""

from __future__ import annotations

import datetime as dt

import pytest

from reaper.cleanup import recheck
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState
from reaper.executor import Precheck
from reaper.inventory.base import Finding, Scope
from reaper.inventory.discover import Inventory
from reaper.model import Decision, Plan, Resource, ResourceRef, Step, Verdict
from reaper.policy import PolicySet

from .fakes import PROJECT, FakeCloud, server

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def delete(rid: str, rtype: str = "compute.server") -> Step:
    return Step(id=f"delete:{rtype}:{rid}", action="delete", resource=ResourceRef(rtype, rid))


def acting(*rids: str) -> list[Decision]:
    return [
        Decision(resource=ResourceRef("compute.server", r), verdict=Verdict.ACT, reason="r")
        for r in rids
    ]


def inventory(*findings: Finding) -> Inventory:
    return Inventory(scope=Scope.of(PROJECT), findings=findings)


def test_each_step_is_judged_against_what_is_listed_now() -> None:
    steps = [delete("kept"), delete("gone"), delete("protected"), delete("moved")]
    fresh = inventory(
        Finding(
            "compute",
            resources=(server("kept"), server("protected")),
            mismatches=(server("moved", project="p-other"),),
        )
    )
    assert recheck.precheck(steps, fresh, acting("kept")) == {
        ResourceRef("compute.server", "kept"): Precheck.PRESENT,
        ResourceRef("compute.server", "gone"): Precheck.GONE,
        ResourceRef("compute.server", "protected"): Precheck.PROTECTED,
        ResourceRef("compute.server", "moved"): Precheck.OWNER_CHANGED,
    }


def test_an_incomplete_answer_never_says_gone_and_its_unlisted_steps_do_not_run() -> None:
    """Nothing says whose an unlisted resource is now: it cannot be re-checked."""
    fresh = inventory(Finding("compute", errors=("503 from Nova",)))
    assert recheck.precheck([delete("s1")], fresh, []) == {
        ResourceRef("compute.server", "s1"): Precheck.UNCHECKED
    }


def test_a_failed_cross_reference_listing_leaves_its_service_unchecked() -> None:
    fresh = inventory(Finding("compute.references", errors=("503 from Nova",)))
    assert recheck.precheck([delete("s1")], fresh, []) == {
        ResourceRef("compute.server", "s1"): Precheck.UNCHECKED
    }


def test_a_step_listed_by_an_otherwise_failed_service_is_still_judged() -> None:
    fresh = inventory(Finding("compute", resources=(server("s1"),), errors=("one page 503",)))
    assert recheck.precheck([delete("s1")], fresh, acting("s1")) == {
        ResourceRef("compute.server", "s1"): Precheck.PRESENT
    }


def quota(project: str, rtype: str = "compute.quota") -> Resource:
    return Resource(type=rtype, id=project, project_id=project, attributes={"project_id": project})


def test_the_owners_quota_runs_when_listed_and_keystone_says_the_project_is_gone() -> None:
    step = delete(PROJECT.id, "compute.quota")
    fresh = inventory(Finding("compute", resources=(quota(PROJECT.id),)))
    decisions = [Decision(step.resource, Verdict.ACT)]

    checked = recheck.precheck([step], fresh, decisions, projects_alive={PROJECT.id: False})

    assert checked == {step.resource: Precheck.PRESENT}


def test_a_quota_step_naming_another_project_never_runs() -> None:
    """An edited plan's quota step for a live project: not the plan owner's, not run."""
    foreign = delete("p-live", "compute.quota")
    fresh = inventory(Finding("compute", resources=(quota(PROJECT.id),)))

    checked = recheck.precheck([foreign], fresh, [], projects_alive={"p-live": False})

    assert checked == {foreign.resource: Precheck.OWNER_CHANGED}


@pytest.mark.parametrize(
    ("alive", "expected"),
    [(True, Precheck.OWNER_CHANGED), (None, Precheck.UNCHECKED)],
    ids=["keystone-knows-it", "keystone-did-not-answer"],
)
def test_a_quota_step_of_a_project_keystone_knows_or_cannot_say_never_runs(
    alive: bool | None, expected: Precheck
) -> None:
    step = delete(PROJECT.id, "network.quota")
    fresh = inventory(Finding("network", resources=(quota(PROJECT.id, "network.quota"),)))
    decisions = [Decision(step.resource, Verdict.ACT)]

    checked = recheck.precheck([step], fresh, decisions, projects_alive={PROJECT.id: alive})

    assert checked == {step.resource: expected}


def test_a_quota_step_whose_service_listing_failed_does_not_run() -> None:
    step = delete(PROJECT.id, "block_storage.quota")
    fresh = inventory(Finding("block_storage", errors=("503 from Cinder",)))

    checked = recheck.precheck([step], fresh, [], projects_alive={PROJECT.id: False})

    assert checked == {step.resource: Precheck.UNCHECKED}


def test_the_prechecker_asks_keystone_about_each_quota_project(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.ENABLED  # restored since the plan
    plan = Plan(identity=PROJECT, created_at=T0, trigger="identity.project.deleted")
    check = recheck.prechecker(cloud.seams(), plan, policies, Settings(), Scope.of(PROJECT))
    step = delete(PROJECT.id, "compute.quota")

    assert check([step], {}) == {step.resource: Precheck.OWNER_CHANGED}
    assert cloud.keystone.asked == [PROJECT]


def test_the_prechecker_discovers_the_scope_and_applies_the_settings_protection(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.inventory.resources = [server("s1")]
    plan = Plan(identity=PROJECT, created_at=T0, trigger="identity.project.deleted")
    protected = Settings(protected_project_ids=frozenset({PROJECT.id}))
    check = recheck.prechecker(cloud.seams(), plan, policies, protected, Scope.of(PROJECT))
    assert check([delete("s1")], {}) == {ResourceRef("compute.server", "s1"): Precheck.PROTECTED}
    check = recheck.prechecker(cloud.seams(), plan, policies, Settings(), Scope.of(PROJECT))
    assert check([delete("s1")], {}) == {ResourceRef("compute.server", "s1"): Precheck.PRESENT}
    assert cloud.inventory.scopes == [Scope.of(PROJECT)] * 2


def test_a_resource_a_live_project_uses_since_the_plan_is_kept_saying_who() -> None:
    """Planned while unused; L's port appeared before apply: kept, not merely skipped."""
    from reaper.executor import InUseNow
    from reaper.inventory.base import USED_BY

    use = {"project_id": "l", "type": "network.port", "id": "p-1", "detail": "port p-1"}
    used = Resource("network.subnet", "sub-1", project_id=PROJECT.id, attributes={USED_BY: [use]})
    kept = Decision(used.ref, Verdict.PROTECT, reason="kept: in use by live project l (port p-1)")
    fresh = inventory(Finding("network", resources=(used,)))
    assert recheck.precheck([delete("sub-1", "network.subnet")], fresh, [kept]) == {
        used.ref: InUseNow("kept: in use by live project l (port p-1)", (use,))
    }


def test_the_prechecker_protects_reaper_s_own_and_the_admin_project(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    """A plan file naming the admin project's server never runs it, whatever was configured."""
    cloud.inventory.resources = [server("s1")]
    cloud.house.ids = frozenset({PROJECT.id})
    plan = Plan(identity=PROJECT, created_at=T0, trigger="identity.project.deleted")
    check = recheck.prechecker(cloud.seams(), plan, policies, Settings(), Scope.of(PROJECT))
    assert check([delete("s1")], {}) == {ResourceRef("compute.server", "s1"): Precheck.PROTECTED}
