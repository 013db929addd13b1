"""Verify -> discover -> decide -> plan, and the operator's road, through the seams."""

from __future__ import annotations

import json

import pytest

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup.discover import DOMAIN_UNKNOWN
from reaper.cleanup.operator import plan_for_operator
from reaper.cleanup.plan import make_plan
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState, Refused, VerificationError
from reaper.inventory.base import Scope
from reaper.model import IdentityKind, IdentityRef, Verdict
from reaper.policy import PolicySet
from reaper.store import Known, Store

from .fakes import PROJECT, FakeCloud, server, unreachable

SETTINGS = Settings(owner="cli")


def test_a_gone_project_gets_a_plan_for_what_it_owns(cloud: FakeCloud, policies: PolicySet) -> None:
    cloud.inventory.resources = [server("s1"), server("other", project="p-alive")]
    planned = make_plan(cloud.seams(), PROJECT, policies, SETTINGS)
    assert planned.trigger == "identity.project.deleted" == planned.plan.trigger
    assert [r.id for r in planned.plan.resources] == ["s1"]
    assert [s.id for s in planned.plan.steps] == ["delete:compute.server:s1"]
    assert planned.plan.policy_digest == policies.digest
    assert cloud.inventory.scopes == [Scope.of(PROJECT)]


def test_a_live_identity_is_refused_before_anything_is_listed(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.ENABLED
    with pytest.raises(Refused):
        make_plan(cloud.seams(), PROJECT, policies, SETTINGS)
    assert cloud.inventory.scopes == []


def test_a_disabled_identity_needs_disabled_ok_and_plans_for_the_disable(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.DISABLED
    with pytest.raises(Refused):
        make_plan(cloud.seams(), PROJECT, policies, SETTINGS)
    planned = make_plan(cloud.seams(), PROJECT, policies, SETTINGS, disabled_ok=True)
    assert planned.trigger == "identity.project.disabled"


def test_keystone_unreachable_is_an_error(cloud: FakeCloud, policies: PolicySet) -> None:
    cloud.keystone.answers[PROJECT] = unreachable()
    with pytest.raises(VerificationError):
        make_plan(cloud.seams(), PROJECT, policies, SETTINGS)


def test_the_settings_protection_applies(cloud: FakeCloud, policies: PolicySet) -> None:
    cloud.inventory.resources = [server("s1")]
    settings = Settings(protected_project_ids=frozenset({PROJECT.id}))
    planned = make_plan(cloud.seams(), PROJECT, policies, settings)
    assert [d.verdict for d in planned.plan.decisions] == [Verdict.PROTECT]
    assert planned.plan.steps == ()


def test_reaper_s_own_and_the_admin_project_are_protected_with_nothing_configured(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    """The deleted project's id came back as the admin project's: nothing of it is touched."""
    cloud.inventory.resources = [server("s1")]
    cloud.house.ids = frozenset({"p-reaper", PROJECT.id})
    planned = make_plan(cloud.seams(), PROJECT, policies, SETTINGS)
    assert [d.verdict for d in planned.plan.decisions] == [Verdict.PROTECT]
    assert [d.rule for d in planned.plan.decisions] == ["always_protected"]
    assert planned.plan.steps == ()
    assert cloud.house.asked == [("admin", "Default")]


def test_not_knowing_the_always_protected_projects_plans_nothing(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.inventory.resources = [server("s1")]
    cloud.house.ids = VerificationError("keystone is down")
    with pytest.raises(VerificationError):
        make_plan(cloud.seams(), PROJECT, policies, SETTINGS)


def test_a_verification_in_hand_is_not_asked_again(cloud: FakeCloud, policies: PolicySet) -> None:
    verification = cloud.keystone(PROJECT)
    cloud.keystone.asked.clear()
    make_plan(cloud.seams(), PROJECT, policies, SETTINGS, verification=verification)
    assert cloud.keystone.asked == []


class TestTheOperatorsRoad:
    def test_the_plan_is_recorded_as_soon_as_it_is_made(
        self, cloud: FakeCloud, policies: PolicySet, store: Store, trail: AuditTrail
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        planned = plan_for_operator(
            cloud.seams(), PROJECT, policies, SETTINGS, store=store, trail=trail
        )
        bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
        assert [b["action"] for b in bodies] == ["read", "evaluate", "evaluate"]
        assert bodies[-1]["reaper"]["plan"]["hash"] == planned.plan.content_hash

    def test_a_domain_is_searched_through_the_members_reaper_has_seen(
        self, cloud: FakeCloud, policies: PolicySet, store: Store, trail: AuditTrail
    ) -> None:
        domain = IdentityRef(IdentityKind.DOMAIN, "d-1")
        member = IdentityRef(IdentityKind.PROJECT, "p-member")
        store.directory.record([Known(member, "d-1", "member")])
        cloud.inventory.resources = [server("s1", project="p-member")]
        planned = plan_for_operator(
            cloud.seams(), domain, policies, SETTINGS, store=store, trail=trail
        )
        assert cloud.inventory.scopes == [Scope(domain, project_ids=frozenset({"p-member"}))]
        assert planned.plan.incomplete == ()

    def test_a_domain_with_no_member_seen_says_its_plan_is_incomplete(
        self, cloud: FakeCloud, policies: PolicySet, store: Store, trail: AuditTrail
    ) -> None:
        domain = IdentityRef(IdentityKind.DOMAIN, "d-unknown")
        planned = plan_for_operator(
            cloud.seams(), domain, policies, SETTINGS, store=store, trail=trail
        )
        assert planned.plan.incomplete == (DOMAIN_UNKNOWN,)
