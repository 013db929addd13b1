"""The executor's observer that writes the audit trail (and step outcomes).

Every step's start and final outcome becomes an audit record with the
resource's before-image and, for the outcome, the retry history; each
outcome is also stored against (plan hash, step id) as soon as it is known,
so a controller killed mid-plan resumes without running a finished step
again. The outcome and its audit record are one transaction: a step is
never recorded done without its record in the trail, nor the other way
round. If that write fails, :meth:`AuditObserver.step_finished` raises and
the executor counts the step as failed (the next run re-checks it). A step
kept because a live project uses its resource (found when it ran) says who
in its record's ``reaper_used_by``, as a plan says it of a resource kept
when planned. A dry run records ``evaluate`` outcomes in the trail but
stores no step outcome: what did not happen must not stop it from
happening later.

Before-images are stored once. With ``decisions_recorded`` (the plan's
decisions, each with its resource's before-image and its hash, are in this
trail: the controller and ``reaper apply --project`` record them just
before), a step record names neither: the decision record with the same plan
hash and target id holds both, and what a step record adds is only what
happened. Without it (a plan file made elsewhere), a step's first record in
this run carries the image and its later ones refer to it by
``before_sha256``.

Step records are lean because a store keeps two per cleaned resource
(issue 18's B3, ``benchmarks/store_bytes.py``): their target is the
resource's type, id and owner (its name is in the image), a finished step's
``extra`` leaves out what its CADF action already says, and once a record
of this run described reaper's initiator and observer in full, the later
ones name them by id (``reaper.audit.record``).
"""

from __future__ import annotations

from typing import Any

from reaper import log, planner
from reaper.audit.record import (
    AuditAction,
    AuditOutcome,
    AuditReason,
    AuditTarget,
    image_sha256,
)
from reaper.audit.trail import AuditTrail
from reaper.inventory.base import USED_BY
from reaper.model import Outcome, OutcomeStatus, Plan, Resource, Step

LOG = log.get(__name__)

_ACTIONS = {
    "delete": AuditAction.DELETE.value,
    "stop": "update/stop",
    "lock": "update/lock",
    "tag": "update/tag",
    "quarantine": "update/quarantine",
    "evidence_snapshot": "create/evidence",
}


def audit_action(step: Step) -> str:
    if step.action == "delete" and step.resource.type == "compute.volume_attachment":
        return AuditAction.DETACH.value
    return _ACTIONS.get(step.action, f"update/{step.action}")


class AuditObserver:
    def __init__(
        self,
        trail: AuditTrail,
        plan: Plan,
        *,
        tombstone_id: str | None = None,
        dry_run: bool = False,
        record_outcomes: bool = True,
        decisions_recorded: bool = False,
    ) -> None:
        self.trail = trail
        self.plan = plan
        self.tombstone_id = tombstone_id
        self.dry_run = dry_run
        self.record_outcomes = record_outcomes and not dry_run
        self.decisions_recorded = decisions_recorded
        #: Steps whose before-image a record of this run already carries.
        self._imaged: set[str] = set()
        #: Whether a record of this run, committed, describes the actors in full.
        self._introduced = False

    def _common(self, step: Step, resource: Resource | None) -> dict[str, Any]:
        common: dict[str, Any] = {
            # By type and id: its name and owner are in its image (the decision's).
            "target": AuditTarget.for_resource(step.resource),
            "tombstone_id": self.tombstone_id,
            "plan_hash": self.plan.content_hash,
            "step_id": step.id,
            "actor_ids": self._introduced,
        }
        if resource is None or self.decisions_recorded:
            return common
        if step.id in self._imaged:
            common["before_sha256"] = image_sha256(resource)
        else:
            common["before"] = resource
        return common

    def step_started(self, step: Step, resource: Resource | None) -> None:
        if self.dry_run:
            return  # a dry run's single record per step is its outcome
        self.trail.append(
            action=audit_action(step),
            outcome=AuditOutcome.PENDING,
            reason=self._why(step, "started", f"started: {step.reason}"),
            **self._common(step, resource),
        )
        self._imaged.add(step.id)
        self._introduced = True

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        self.trail.append(
            action=audit_action(step),
            outcome=AuditOutcome.FAILURE,
            reason=AuditReason.error(
                f"attempt {attempt} failed, retrying in {delay:.1f}s: {error}"
            ),
            target=AuditTarget.for_resource(step.resource),
            tombstone_id=self.tombstone_id,
            plan_hash=self.plan.content_hash,
            step_id=step.id,
            extra={"attempt": attempt, "retry_in": round(delay, 3)},
            actor_ids=self._introduced,
        )

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        """Store the outcome and append its audit record, in one transaction."""
        action = AuditAction.EVALUATE.value if self.dry_run else audit_action(step)
        failed = outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.BLOCKED)
        draft = self.trail.draft(
            action=action,
            outcome=AuditOutcome.from_status(outcome.status),
            reason=AuditReason.error(outcome.reason)
            if failed
            else self._why(step, outcome.reason, outcome.reason),
            extra={
                "status": outcome.status.value,
                "attempts": outcome.attempts,
                # The CADF action names the step's action, but for a dry run's evaluate.
                **({"step_action": step.action} if self.dry_run else {}),
                **({"retries": list(outcome.retries)} if outcome.retries else {}),
                **_used_by(outcome),
            },
            **self._common(step, resource),
        )
        if not self.record_outcomes:
            self.trail.append_many([draft])
        else:
            db = self.trail.store.db
            with db.write("record a step outcome and its audit record") as conn:
                self.trail.store.plans.record_outcome(
                    self.plan.content_hash, outcome, conn=conn, **self._deferral(step, outcome)
                )
                self.trail.append_many([draft], conn=conn)
        self._introduced = True

    def _why(self, step: Step, lean: str, full: str) -> AuditReason:
        """A step record's reason: ``lean`` where its decision is in the trail.

        A step's policy and reason are its decision's (``planner.steps``),
        which the decision record states; without it (a plan file made
        elsewhere) the step record is the only place that says them.
        """
        if self.decisions_recorded:
            return AuditReason(text=lean)
        return AuditReason.policy_match(step.policy or "-", None, full)

    def _deferral(self, step: Step, outcome: Outcome) -> dict[str, Any]:
        if outcome.status is OutcomeStatus.DEFERRED:
            return {"due_at": planner.due_at(self.plan, step.id), "tombstone_id": self.tombstone_id}
        return {"tombstone_id": self.tombstone_id}


def _used_by(outcome: Outcome) -> dict[str, Any]:
    """A kept step's users, as the plan's ``reaper_used_by`` says a resource's."""
    return {USED_BY: [dict(u) for u in outcome.used_by]} if outcome.used_by else {}
