"""Record: the reasoning behind a plan, in the audit trail, all or nothing.

What Keystone said, what discovery dropped or could not see, every decision
and the plan itself go into one batch (one transaction): either the whole
reasoning behind a plan is in the trail, or none of it is. A refused
trigger is recorded with why. Each step's start
and outcome are recorded as it runs, by the executor's audit observer.

The batch's first record (what Keystone said) and its last (the plan)
describe reaper's initiator and observer in full; the records between them
in the same batch, one per resource, name them by id
(``reaper.audit.record``): a plan of a thousand resources does not repeat
them a thousand times.
"""

from __future__ import annotations

from typing import Any

from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup.plan import Planned
from reaper.cleanup.verify import Verification
from reaper.model import Trigger


def audit_planned(
    trail: AuditTrail,
    planned: Planned,
    *,
    tombstone_id: str | None = None,
    trigger: Trigger | None = None,
    follows: str | None = None,
) -> None:
    """Record the verification, what discovery dropped or missed, every decision and the plan.

    One transaction: either the whole reasoning behind a plan is in the
    trail, or none of it is. ``follows``: the hash of the plan this one
    comes after (a tombstone that waited for live projects, sent round
    again by the sweep); the plan's record carries it, so the second
    cleanup links to the first.
    """
    plan, identity = planned.plan, planned.plan.identity
    first: dict[str, Any] = {"tombstone_id": tombstone_id, "trigger": trigger}
    # Between the first and the last record, which describe the actors: one transaction.
    common = {**first, "actor_ids": True}
    target = AuditTarget.for_identity(identity, name=planned.verification.name)
    resources = {r.ref: r for r in plan.resources}
    with trail.batch() as batch:
        batch.append(
            action=AuditAction.READ,
            outcome=AuditOutcome.SUCCESS,
            target=target,
            reason=f"Keystone says {identity} is {planned.verification.state.value}",
            **first,
        )
        for dropped in planned.inventory.mismatches:
            batch.append(
                action=AuditAction.LIST,
                outcome=AuditOutcome.FAILURE,
                target=AuditTarget.for_resource(dropped),
                reason=f"returned for {identity}'s owner filter but not owned by it: dropped",
                before=dropped,
                **common,
            )
        for reason in plan.incomplete:
            batch.append(
                action=AuditAction.LIST,
                outcome=AuditOutcome.FAILURE,
                target=target,
                reason=AuditReason.error(f"plan incomplete: {reason}"),
                **common,
            )
        for decision in plan.decisions:
            batch.append(
                action=AuditAction.EVALUATE,
                outcome=AuditOutcome.SUCCESS,
                target=AuditTarget.for_resource(resources[decision.resource]),
                reason=AuditReason.policy_match(
                    decision.policy or "-",
                    decision.rule,
                    f"{decision.verdict.value}: {decision.reason}",
                ),
                plan_hash=plan.content_hash,
                before=resources[decision.resource],
                extra={
                    "verdict": decision.verdict.value,
                    "actions": [a.name for a in decision.actions],
                },
                **common,
            )
        batch.append(
            action=AuditAction.EVALUATE,
            outcome=AuditOutcome.PENDING if plan.held else AuditOutcome.SUCCESS,
            target=target,
            reason=f"plan of {len(plan.steps)} steps for {len(plan.resources)} resources "
            f"({planned.trigger})" + (f", following plan {follows}" if follows else ""),
            plan_hash=plan.content_hash,
            extra={
                **({"follows": follows} if follows else {}),
                "steps": len(plan.steps),
                "held": list(plan.held),
                "incomplete": list(plan.incomplete),
                "policy_digest": plan.policy_digest,
            },
            **first,
        )


def audit_refused(
    trail: AuditTrail,
    verification: Verification,
    *,
    tombstone_id: str,
    trigger: Trigger | None,
    why: str | None = None,
) -> None:
    """Record that a trigger was refused: Keystone says the identity is still there.

    Or ``why`` not: a gone identity reaper never knew (``reaper.cleanup.known``).
    """
    trail.append(
        action="read",
        outcome=AuditOutcome.FAILURE,
        target=AuditTarget.for_identity(verification.identity, name=verification.name),
        reason=AuditReason.error(
            f"refused: {why}"
            if why
            else f"refused: {verification.refusal()} (a stale, replayed or forged "
            "notification, or an update that was not a disable)"
        ),
        tombstone_id=tombstone_id,
        trigger=trigger,
    )
