"""Properties that must hold for any resource data a cloud might return."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reaper.inventory.registry import resource_types
from reaper.model import IdentityKind, IdentityRef, Resource, Verdict
from reaper.policy import TRIGGERS, EvaluationContext, PolicySet, evaluate, load_policies

from .conftest import NOW

POLICIES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "policies")
DEFAULT = load_policies([os.path.join(POLICIES, "default.yaml")])
FORENSIC = load_policies([os.path.join(POLICIES, "forensic.yaml")])
TYPES = sorted(resource_types())
TAGGED = [t for t in TYPES if "tags" in resource_types()[t].all_fields]

#: Fields the shipped policies test, plus a few the SDK has, so the data hits the rules.
FIELDS = [
    "created_at",
    "device_owner",
    "is_protected",
    "is_router_external",
    "is_shared",
    "metadata",
    "project_id",
    "properties",
    "reaper_relation",
    "size",
    "status",
    "tags",
    "target_project_id",
    "visibility",
    "owner",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["owner", "creator", "public", "*", "network:dhcp", "2025-01-01T00:00Z"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
attributes = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=8)


@st.composite
def resources(draw: st.DrawFn, types: list[str] = TYPES) -> Resource:
    return Resource(
        type=draw(
            st.sampled_from([*types, "xyz.thing"]) if types is TYPES else st.sampled_from(types)
        ),
        id=draw(st.text(min_size=1, max_size=6)),
        project_id=draw(st.none() | st.sampled_from(["p-deleted", "admin", "p-live"])),
        attributes=draw(attributes),
    )


contexts = st.builds(
    EvaluationContext,
    trigger=st.sampled_from(TRIGGERS),
    identity=st.builds(IdentityRef, st.sampled_from(list(IdentityKind)), st.just("x")),
    now=st.just(NOW),
    protected_project_ids=st.sampled_from([frozenset(), frozenset({"admin"})]),
)
policy_sets = st.sampled_from([DEFAULT, FORENSIC])
fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(policy_sets, st.lists(resources(), max_size=6), contexts)
def test_evaluation_never_raises_and_decides_each_resource_once(
    policies: PolicySet, items: list[Resource], ctx: EvaluationContext
) -> None:
    evaluation = evaluate(policies, items, ctx)
    assert [d.resource for d in evaluation.decisions] == [r.ref for r in items]
    for decision in evaluation.decisions:
        assert bool(decision.actions) == (decision.verdict is Verdict.ACT)
        assert decision.reason
    assert evaluation == evaluate(policies, items, ctx)


@fast
@given(policy_sets, resources(TAGGED), contexts, st.lists(st.text(max_size=5), max_size=3))
def test_a_reaper_keep_tag_always_protects(
    policies: PolicySet, item: Resource, ctx: EvaluationContext, tags: list[str]
) -> None:
    attrs: dict[str, Any] = {**item.attributes, "tags": [*tags, "reaper:keep"]}
    kept = Resource(type=item.type, id=item.id, project_id=item.project_id, attributes=attrs)
    [decision] = evaluate(policies, [kept], ctx).decisions
    assert decision.verdict is not Verdict.ACT


@fast
@given(policy_sets, resources(["network.network"]), contexts)
def test_a_shared_or_external_network_is_never_acted_on(
    policies: PolicySet, item: Resource, ctx: EvaluationContext
) -> None:
    for flag in ("is_shared", "is_router_external"):
        attrs = {**item.attributes, flag: True}
        network = Resource(type=item.type, id=item.id, attributes=attrs)
        [decision] = evaluate(policies, [network], ctx).decisions
        assert decision.verdict is not Verdict.ACT
