"""Deciding, for each discovered resource, whether to act, skip or protect.

The order is the safety argument, so it is fixed:

1. **Configured protection.** The deleted project, or the domain concerned, is
   in ``protected_project_ids`` / ``protected_domain_ids``; or one of the
   resource's project fields (``project_id``, ``tenant_id``, ``owner``, its
   type's owner fields) names a protected project -> PROTECT. Reaper's own
   project and the cloud's admin project (``house_project_ids``, asked of
   Keystone by the road) are protected the same way, always.
2. **Unknown type.** No registered type of that name -> SKIP (no policy can
   have been checked against it).
3. **Protect rules** of every applicable policy (trigger and type match), in
   load order -> PROTECT on the first that holds. A rule that cannot be
   evaluated (missing field, type mismatch, bad timestamp) protects too:
   fail closed.
4. **Filters** of the applicable policies that have actions, in load order:
   the first whose filters all hold -> ACT with its actions. A filter that
   cannot be evaluated stops the search with SKIP: a later, broader policy
   must not act on what an earlier one could not judge.
5. Otherwise SKIP, saying why: no policy for the type and trigger, no
   policy's filters matched, or (for ``reaper_relation: creator``) that the
   deleted user only created the resource in a project that still exists.

Blast radius: after deciding, each policy's ACT count is compared with its
``max_resources``; exceeding it adds a reason to :attr:`Evaluation.held`.
Decisions still say ACT: the planner builds the plan and the controller
holds it for an operator, so the approver sees exactly what would happen.

Evaluation is pure and deterministic: the same resources, context and
policies give the same decisions, whatever the environment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reaper.inventory.base import IN_USE, RELATION_CREATOR, ResourceType, live_users
from reaper.model import Decision, IdentityKind, Resource, Verdict
from reaper.policy import fields
from reaper.policy.context import EvaluationContext
from reaper.policy.errors import PolicyEvaluationError

if TYPE_CHECKING:
    from reaper.policy.policies import Policy, PolicySet

#: Resource fields that name the project a resource belongs to.
PROJECT_FIELDS = ("project_id", "tenant_id", "owner")


@dataclass(frozen=True)
class Evaluation:
    """The verdicts on one identity's resources."""

    #: Exactly one decision per input resource, in input order.
    decisions: tuple[Decision, ...]
    #: Why the resulting plan must wait for an operator's approval.
    held: tuple[str, ...] = ()
    policy_digest: str | None = None
    trigger: str = ""
    #: How many resources each policy acts on.
    counts: Mapping[str, int] = field(default_factory=dict)


def evaluate(
    policies: PolicySet, resources: Iterable[Resource], ctx: EvaluationContext
) -> Evaluation:
    decisions = tuple(decide(policies, resource, ctx) for resource in resources)
    counts = Counter(d.policy for d in decisions if d.verdict is Verdict.ACT and d.policy)
    held = tuple(
        f"policy {p.name} would act on {counts[p.name]} resources, more than its "
        f"limits.max_resources of {p.max_resources}: an operator must approve the plan"
        for p in policies.policies
        if p.max_resources is not None and counts[p.name] > p.max_resources
    )
    return Evaluation(
        decisions=decisions,
        held=held,
        policy_digest=policies.digest,
        trigger=ctx.trigger,
        counts=dict(sorted(counts.items())),
    )


def decide(policies: PolicySet, resource: Resource, ctx: EvaluationContext) -> Decision:
    """The decision on one resource; never raises (anything unexpected protects)."""
    try:
        return _decide(policies, resource, ctx)
    except Exception as exc:  # fail closed: an odd resource must not stop the others
        return Decision(
            resource.ref,
            Verdict.PROTECT,
            reason=f"evaluation failed ({type(exc).__name__}: {exc}): protected, failing closed",
        )


def _decide(policies: PolicySet, resource: Resource, ctx: EvaluationContext) -> Decision:
    ref = resource.ref
    rtype = policies.types.get(resource.type)
    configured = configured_protection(resource, rtype, ctx)
    if configured:
        rule, reason = configured
        return Decision(ref, Verdict.PROTECT, rule=rule, reason=reason)
    if rtype is None:
        return Decision(
            ref,
            Verdict.SKIP,
            reason=f"{resource.type} is not a registered resource type: no policy applies",
        )
    applicable = policies.applicable(ctx.trigger, resource.type)
    for policy in applicable:
        for protect in policy.protect:
            if resource.type not in protect.types:
                continue
            rule = protect.describe()
            try:
                held = protect.filter.match(resource, ctx, strict=True)
            except Exception as exc:
                return Decision(
                    ref,
                    Verdict.PROTECT,
                    policy=policy.name,
                    rule=rule,
                    reason=f"protect rule '{rule}' of policy {policy.name} could not be "
                    f"evaluated ({exc}): protected, failing closed",
                )
            if held:
                names = protect.filter.requirements()
                live = any(IN_USE in need for need in names) and live_users(resource)
                return Decision(
                    ref,
                    Verdict.PROTECT,
                    policy=policy.name,
                    rule=rule,
                    reason=live or f"protected by policy {policy.name}: {rule}",
                )
    acting = [p for p in applicable if p.actions]
    for policy in acting:
        try:
            matched = _all(policy, resource, ctx)
        except Exception as exc:
            return Decision(
                ref,
                Verdict.SKIP,
                policy=policy.name,
                rule=policy.rule,
                reason=f"policy {policy.name} could not evaluate its filters ({exc}): "
                "no action, failing closed",
            )
        if matched:
            return Decision(
                ref,
                Verdict.ACT,
                actions=policy.actions,
                policy=policy.name,
                rule=policy.rule,
                reason=f"policy {policy.name} on {ctx.trigger}: {policy.rule}",
            )
    return Decision(ref, Verdict.SKIP, reason=_skip_reason(resource, acting, ctx))


def _all(policy: Policy, resource: Resource, ctx: EvaluationContext) -> bool:
    """The policy's filters as a conjunction, in three-valued logic (see filters/boolean.py)."""
    error: Exception | None = None
    for item in policy.filters:
        try:
            if not item.match(resource, ctx):
                return False
        except PolicyEvaluationError as exc:
            error = error or exc
    if error is not None:
        raise error
    return True


def _skip_reason(resource: Resource, acting: list[Policy], ctx: EvaluationContext) -> str:
    if not acting:
        why = f"no policy for {resource.type} on {ctx.trigger}"
    else:
        tried = "; ".join(f"{p.name} needs {p.rule}" for p in acting)
        why = f"no policy matched on {ctx.trigger} ({tried})"
    if fields.top(resource, "reaper_relation") == RELATION_CREATOR:
        project = fields.top(resource, "project_id")
        where = f"live project {project}" if isinstance(project, str) else "a live project"
        if ctx.identity.kind is IdentityKind.USER:
            who = f"the deleted user {ctx.identity.id}"
        else:
            who = f"a user of deleted {ctx.identity.kind.value} {ctx.identity.id}"
        return f"created by {who} in {where}: no policy opted in ({why})"
    return why


#: The rule of a decision protecting reaper's own or the admin project.
HOUSE_RULE = "always_protected"
HOUSE_WHY = "reaper's own project or the admin project (always protected)"


def configured_protection(
    resource: Resource, rtype: ResourceType | None, ctx: EvaluationContext
) -> tuple[str, str] | None:
    """``(rule, reason)`` when reaper's configuration protects the resource, else None."""
    projects = ctx.protected_project_ids
    house = ctx.house_project_ids
    if ctx.identity.kind is IdentityKind.PROJECT and ctx.identity.id in house:
        return HOUSE_RULE, f"project {ctx.identity.id} is {HOUSE_WHY}"
    if ctx.identity.kind is IdentityKind.PROJECT and ctx.identity.id in projects:
        return (
            "protected_project_ids",
            f"project {ctx.identity.id} is in protected_project_ids",
        )
    domain = ctx.domain
    if domain is not None and domain in ctx.protected_domain_ids:
        return "protected_domain_ids", f"domain {domain} is in protected_domain_ids"
    own_domain = fields.top(resource, "domain_id")
    if isinstance(own_domain, str) and own_domain in ctx.protected_domain_ids:
        return "protected_domain_ids", f"domain_id {own_domain} is in protected_domain_ids"
    if not projects and not house:
        return None
    owner_fields = rtype.owner_fields if rtype else ()
    names = dict.fromkeys([*PROJECT_FIELDS, *(f for f in owner_fields if f != "user_id")])
    values = [(name, fields.top(resource, name)) for name in names]
    values.append(("project_id", resource.project_id))
    for name, value in values:
        if isinstance(value, str) and value in house:
            return HOUSE_RULE, f"{name} {value} is {HOUSE_WHY}"
        if isinstance(value, str) and value in projects:
            return (
                "protected_project_ids",
                f"{name} {value} is in protected_project_ids",
            )
    return None
