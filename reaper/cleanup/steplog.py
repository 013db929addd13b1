"""The controller's log of what goes wrong with a step: every retry and every failure.

The audit trail has each attempt, but an operator watching the journal
during a retry storm of 409s must see it there too, with the resource,
the service's answer and what happens next. One WARNING line per retry and
per failed or blocked step; nothing for steps that go well (the audit trail
and the metrics have those).
"""

from __future__ import annotations

from reaper import log
from reaper.model import Outcome, OutcomeStatus, Resource, Step

LOG = log.get(__name__)

#: What the controller does after a step ends in this status.
NEXT = {
    OutcomeStatus.FAILED: "tried again at the tombstone's next attempt (reaper tombstone show)",
    OutcomeStatus.BLOCKED: "once its retry budget is spent the tombstone is held for an "
    "operator (reaper tombstone show, then reaper approve); until then it is tried again "
    "at the tombstone's next attempt",
}


class StepLog:
    """An executor observer that logs retries and failures at WARNING."""

    def __init__(self, *, attempts: int) -> None:
        #: ``[executor] retry_attempts``: tries of one step in a run, the first included.
        self.attempts = attempts

    def step_started(self, step: Step, resource: Resource | None) -> None:
        pass

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        LOG.warning(
            "step failed, retrying",
            step=step.id,
            service=step.service,
            resource=f"{step.resource.type} {step.resource.id}",
            answer=error,
            next=f"retry {attempt}/{max(self.attempts - 1, attempt)} in {delay:.1f} s",
        )

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        then = NEXT.get(outcome.status)
        if then is None:
            return
        LOG.warning(
            f"step {outcome.status.value}",
            step=step.id,
            service=step.service,
            resource=f"{step.resource.type} {step.resource.id}",
            answer=outcome.reason,
            attempts=outcome.attempts,
            next=then,
        )
