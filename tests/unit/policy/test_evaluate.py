"""Evaluation: protect first and failing closed, then the first matching policy, else skip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from reaper.model import ActionSpec, IdentityKind, IdentityRef, Verdict
from reaper.policy import PolicySet, evaluate, load_policies

from .conftest import USER, context, resource

Load = Callable[[str], PolicySet]

GUARDED = """
policies:
  - name: guard
    triggers: ["*"]
    resources: ["*"]
    protect:
      - tag: "reaper:keep"
      - {key: is_shared, value: true}
  - name: delete-errored
    triggers: [identity.project.deleted]
    resources: [compute.server]
    filters:
      - {key: status, value: ERROR}
    actions: [stop, delete]
  - name: delete-owned
    triggers: ["identity.*.deleted"]
    resources: [compute.server, network.network, block_storage.volume]
    filters:
      - {key: reaper_relation, value: owner}
    actions:
      - {type: delete, after: 7d}
"""


def test_exactly_one_decision_per_resource_in_order(policies: Load) -> None:
    loaded = policies(GUARDED)
    items = [
        resource("network.network", "n1", is_shared=False, tags=[]),
        resource("compute.server", "s1", tags=["reaper:keep"]),
        resource("compute.keypair", "k1"),
        resource("xyz.thing", "z1"),
    ]
    decisions = evaluate(loaded, items, context()).decisions
    assert [d.resource for d in decisions] == [r.ref for r in items]
    assert [d.verdict for d in decisions] == [
        Verdict.ACT,
        Verdict.PROTECT,
        Verdict.SKIP,
        Verdict.SKIP,
    ]


class TestProtect:
    def test_protect_beats_filters(self, write: Callable[..., str]) -> None:
        loaded = load_policies([write(GUARDED)])
        shared = resource("network.network", "n1", status="ERROR", is_shared=True, tags=[])
        [decision] = evaluate(loaded, [shared], context()).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.policy == "guard"
        assert decision.rule == "is_shared eq true"
        assert decision.reason == "protected by policy guard: is_shared eq true"
        assert decision.actions == ()

    def test_a_glob_applies_field_rules_only_to_types_with_the_field(self, write) -> None:
        """``is_shared`` protects networks; a server (no such field) is still judged."""
        loaded = load_policies([write(GUARDED)])
        server = resource("compute.server", "s1", tags=[], metadata={})
        [decision] = evaluate(loaded, [server], context()).decisions
        assert decision.verdict is Verdict.ACT

    def test_tag_rule_covers_metadata_only_types(self, write) -> None:
        loaded = load_policies([write(GUARDED)])
        volume = resource("block_storage.volume", "v1", metadata={"reaper:keep": "yes"})
        [decision] = evaluate(loaded, [volume], context()).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.rule == "tagged reaper:keep"

    def test_a_missing_field_protects_failing_closed(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        network = resource("network.network", "n1", tags=[])  # no is_shared at all
        [decision] = evaluate(loaded, [network], context()).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.reason == (
            "protect rule 'is_shared eq true' of policy guard could not be evaluated "
            "(the resource has no field is_shared): protected, failing closed"
        )

    def test_a_type_mismatch_protects_failing_closed(self, policies: Load) -> None:
        loaded = policies(
            """
            policies:
              - name: keep-big
                triggers: ["*"]
                resources: [block_storage.volume]
                protect: [{key: size, op: gt, value: 1000}]
                actions: [delete]
            """
        )
        odd = resource("block_storage.volume", "v1", size="2TB")
        [decision] = evaluate(loaded, [odd], context()).decisions
        assert decision.verdict is Verdict.PROTECT
        assert "could not be evaluated (cannot compare str '2TB' gt int 1000)" in decision.reason

    def test_protect_rules_of_policies_for_other_triggers_do_not_apply(self, policies) -> None:
        loaded = policies(
            """
            policies:
              - name: keep-on-disable
                triggers: [identity.project.disabled]
                resources: [compute.server]
                protect: [{key: status, value: ACTIVE}]
              - name: delete
                triggers: [identity.project.deleted]
                resources: [compute.server]
                actions: [delete]
            """
        )
        [decision] = evaluate(
            loaded, [resource("compute.server", status="ACTIVE")], context()
        ).decisions
        assert decision.verdict is Verdict.ACT


class TestConfiguredProtection:
    LOADED = """
    policies:
      - name: delete-everything
        triggers: ["*"]
        resources: ["*"]
        actions: [delete]
    """

    def test_the_deleted_project_itself(self, policies: Load) -> None:
        ctx = context(protected_project_ids=frozenset({"p-deleted"}))
        [decision] = evaluate(policies(self.LOADED), [resource("compute.server")], ctx).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.rule == "protected_project_ids"
        assert decision.reason == "project p-deleted is in protected_project_ids"

    @pytest.mark.parametrize(
        ("rtype", "attributes", "field"),
        [
            ("compute.server", {"project_id": "admin"}, "project_id"),
            ("image.image", {"owner": "admin", "project_id": None}, "owner"),
            ("network.rbac_policy", {"target_project_id": "admin"}, "target_project_id"),
            ("network.port", {"tenant_id": "admin", "project_id": None}, "tenant_id"),
        ],
    )
    def test_a_resource_of_a_protected_project(
        self, policies: Load, rtype: str, attributes: dict, field: str
    ) -> None:
        """A deleted user's server in the admin project, a grant to the admin project..."""
        ctx = context(identity=USER, protected_project_ids=frozenset({"admin"}))
        item = resource(rtype, **attributes)
        [decision] = evaluate(policies(self.LOADED), [item], ctx).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.reason == f"{field} admin is in protected_project_ids"

    def test_reaper_s_own_and_the_admin_project_with_nothing_configured(
        self, policies: Load
    ) -> None:
        """An empty protected_project_ids still never lets a policy touch the house."""
        ctx = context(identity=USER, house_project_ids=frozenset({"p-reaper", "p-admin"}))
        items = [resource("compute.server", project_id=p) for p in ("p-reaper", "p-admin", "p-x")]
        decisions = evaluate(policies(self.LOADED), items, ctx).decisions
        assert [d.verdict for d in decisions] == [Verdict.PROTECT, Verdict.PROTECT, Verdict.ACT]
        assert decisions[0].rule == "always_protected"
        assert decisions[1].reason == (
            "project_id p-admin is reaper's own project or the admin project (always protected)"
        )

    def test_the_deleted_project_is_the_admin_project(self, policies: Load) -> None:
        ctx = context(house_project_ids=frozenset({"p-deleted"}))
        [decision] = evaluate(policies(self.LOADED), [resource("compute.server")], ctx).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.rule == "always_protected"

    def test_the_domain_of_the_identity(self, policies: Load) -> None:
        ctx = context(domain_id="default", protected_domain_ids=frozenset({"default"}))
        [decision] = evaluate(policies(self.LOADED), [resource("compute.server")], ctx).decisions
        assert decision.verdict is Verdict.PROTECT
        assert decision.reason == "domain default is in protected_domain_ids"

    def test_a_deleted_protected_domain(self, policies: Load) -> None:
        ctx = context(
            trigger="identity.domain.deleted",
            identity=IdentityRef(IdentityKind.DOMAIN, "d1"),
            protected_domain_ids=frozenset({"d1"}),
        )
        [decision] = evaluate(policies(self.LOADED), [resource("compute.server")], ctx).decisions
        assert decision.verdict is Verdict.PROTECT

    def test_it_comes_before_everything_even_unknown_types(self, policies: Load) -> None:
        ctx = context(protected_project_ids=frozenset({"p-deleted"}))
        [decision] = evaluate(policies(self.LOADED), [resource("xyz.thing")], ctx).decisions
        assert decision.verdict is Verdict.PROTECT


class TestActing:
    def test_first_matching_policy_wins(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        errored = resource("compute.server", "s1", status="ERROR", tags=[])
        active = resource("compute.server", "s2", status="ACTIVE", tags=[])
        first, second = evaluate(loaded, [errored, active], context()).decisions
        assert (first.policy, [a.name for a in first.actions]) == (
            "delete-errored",
            ["stop", "delete"],
        )
        assert first.rule == "status eq ERROR"
        assert first.reason == "policy delete-errored on identity.project.deleted: status eq ERROR"
        assert second.policy == "delete-owned"

    def test_grace_periods_and_parameters_reach_the_action_specs(self, policies: Load) -> None:
        loaded = policies(
            """
            policies:
              - name: forensic
                triggers: [identity.project.deleted]
                resources: [compute.server]
                actions:
                  - {type: evidence_snapshot, retention: 90d}
                  - {type: quarantine, reason: evidence}
                  - {type: delete, after: 7d}
            """
        )
        [decision] = evaluate(loaded, [resource("compute.server")], context()).decisions
        assert decision.actions == (
            ActionSpec("evidence_snapshot", {"retention": "90d"}),
            ActionSpec("quarantine", {"reason": "evidence"}),
            ActionSpec("delete", {}, after=dt.timedelta(days=7)),
        )
        assert decision.rule == "every resource"
        assert type(decision.actions[0].params) is dict

    def test_a_filter_that_cannot_be_evaluated_skips_instead_of_falling_through(
        self, policies: Load
    ) -> None:
        """A later, broader policy must not act on what an earlier one could not judge."""
        loaded = policies(
            """
            policies:
              - name: small-volumes
                triggers: [identity.project.deleted]
                resources: [block_storage.volume]
                filters: [{key: size, op: lt, value: 10}]
                actions: [delete]
              - name: everything
                triggers: [identity.project.deleted]
                resources: [block_storage.volume]
                actions: [{type: delete, after: 1d}]
            """
        )
        [decision] = evaluate(
            loaded, [resource("block_storage.volume", size="5GB")], context()
        ).decisions
        assert decision.verdict is Verdict.SKIP
        assert decision.policy == "small-volumes"
        assert decision.reason == (
            "policy small-volumes could not evaluate its filters (cannot compare str '5GB' lt "
            "int 10): no action, failing closed"
        )


class TestSkipReasons:
    def test_no_policy_for_the_type_on_the_trigger(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        ctx = context(trigger="identity.user.deleted", identity=USER)
        [decision] = evaluate(loaded, [resource("compute.keypair")], ctx).decisions
        assert decision.verdict is Verdict.SKIP
        assert decision.reason == "no policy for compute.keypair on identity.user.deleted"

    def test_no_policy_matched(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        server = resource("compute.server", status="ACTIVE", reaper_relation="creator", tags=[])
        ctx = context(trigger="identity.project.deleted")
        [decision] = evaluate(loaded, [server], ctx).decisions
        assert decision.verdict is Verdict.SKIP
        assert decision.reason.endswith(
            "no policy matched on identity.project.deleted (delete-errored needs status eq "
            "ERROR; delete-owned needs reaper_relation eq owner))"
        )

    def test_created_by_the_deleted_user_in_a_live_project(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        server = resource(
            "compute.server",
            project_id="p-live",
            user_id="u-deleted",
            reaper_relation="creator",
            tags=[],
        )
        ctx = context(trigger="identity.user.deleted", identity=USER)
        [decision] = evaluate(loaded, [server], ctx).decisions
        assert decision.verdict is Verdict.SKIP
        assert decision.reason == (
            "created by the deleted user u-deleted in live project p-live: no policy opted in "
            "(no policy matched on identity.user.deleted (delete-owned needs reaper_relation "
            "eq owner))"
        )

    def test_unknown_types(self, policies: Load) -> None:
        [decision] = evaluate(policies(GUARDED), [resource("xyz.thing")], context()).decisions
        assert decision.reason == "xyz.thing is not a registered resource type: no policy applies"


class TestBlastRadius:
    TEXT = """
    defaults:
      limits: {max_resources: 2}
    policies:
      - name: servers
        triggers: ["*"]
        resources: [compute.server]
        actions: [delete]
      - name: volumes
        triggers: ["*"]
        resources: [block_storage.volume]
        actions: [delete]
        limits: {max_resources: 5}
    """

    def test_more_matches_than_the_limit_hold_the_plan(self, policies: Load) -> None:
        servers = [resource("compute.server", f"s{i}") for i in range(3)]
        volumes = [resource("block_storage.volume", f"v{i}") for i in range(3)]
        evaluation = evaluate(policies(self.TEXT), [*servers, *volumes], context())
        assert evaluation.held == (
            "policy servers would act on 3 resources, more than its limits.max_resources of 2: "
            "an operator must approve the plan",
        )
        assert all(d.verdict is Verdict.ACT for d in evaluation.decisions)
        assert evaluation.counts == {"servers": 3, "volumes": 3}

    def test_at_the_limit_nothing_is_held(self, policies: Load) -> None:
        servers = [resource("compute.server", f"s{i}") for i in range(2)]
        assert evaluate(policies(self.TEXT), servers, context()).held == ()

    def test_protected_and_skipped_resources_do_not_count(self, policies: Load) -> None:
        servers = [resource("compute.server", f"s{i}") for i in range(3)]
        ctx = context(protected_project_ids=frozenset({"p-deleted"}))
        assert evaluate(policies(self.TEXT), servers, ctx).held == ()


class TestDeterminismAndDigest:
    def test_the_same_input_gives_the_same_evaluation(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        items = [resource("compute.server", f"s{i}", status="ERROR", tags=[]) for i in range(5)]
        assert evaluate(loaded, items, context()) == evaluate(loaded, items, context())

    def test_digest_ignores_comments_layout_and_file_names(self, write) -> None:
        one = load_policies([write(GUARDED, "a.yaml")])
        relaid = GUARDED.replace("[stop, delete]", "\n      - stop\n      - delete")
        other = load_policies([write("# a comment\n" + relaid, "b.yaml")])
        assert one.digest == other.digest
        changed = load_policies([write(GUARDED.replace("ERROR", "SHUTOFF"), "c.yaml")])
        assert changed.digest != one.digest

    def test_the_evaluation_carries_the_digest(self, policies: Load) -> None:
        loaded = policies(GUARDED)
        assert evaluate(loaded, [], context()).policy_digest == loaded.digest


def test_unknown_triggers_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown trigger"):
        context(trigger="identity.project.updated")
