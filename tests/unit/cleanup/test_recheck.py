"""The re-check before the first step: one fresh discovery, judged for every step at once."""

from __future__ import annotations

import datetime as dt

from reaper.cleanup import recheck
from reaper.cleanup.settings import Settings
from reaper.executor import Precheck
from reaper.inventory.base import Finding, Scope
from reaper.inventory.discover import Inventory
from reaper.model import Decision, Plan, ResourceRef, Step, Verdict
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


def test_an_incomplete_answer_never_says_gone() -> None:
    fresh = inventory(Finding("compute", errors=("503 from Nova",)))
    assert recheck.precheck([delete("s1")], fresh, []) == {
        ResourceRef("compute.server", "s1"): Precheck.PRESENT
    }


def test_quotas_always_exist() -> None:
    quota = delete(PROJECT.id, "compute.quota")
    assert recheck.precheck([quota], inventory(), []) == {quota.resource: Precheck.PRESENT}


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
