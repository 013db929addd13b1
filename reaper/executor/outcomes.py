"""Each step's final word: its status, its attempts over every run, its times, its record.

The scheduler decides *when* a step is finished; this says *what* its
outcome is. A failure is ``blocked`` once conflicts spent the step's retry
budget, counted over this run and the earlier runs that did not finish it;
an outcome the observer could not record is a failure, because a step whose
outcome is in neither the store nor the trail did not happen as far as anyone
can later prove.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from reaper import log
from reaper.executor.clock import Clock
from reaper.executor.contract import Conflict, Limits, Observer
from reaper.executor.retry import Attempts, describe
from reaper.model import BUDGET_SPENT, Outcome, OutcomeStatus, Resource, ResourceRef, Step

LOG = log.get(__name__)


class StepOutcomes:
    """Builds and records the outcomes of one execution's steps (no lock of its own)."""

    def __init__(
        self,
        resources: Mapping[ResourceRef, Resource],
        attempts: Attempts,
        observer: Observer,
        clock: Clock,
        limits: Limits,
        previous: Mapping[str, Outcome],
    ) -> None:
        self.resources = resources
        self.attempts = attempts
        self.observer = observer
        self.clock = clock
        self.limits = limits
        self.previous = previous
        self.started_at: dict[str, dt.datetime] = {}

    def started(self, sid: str) -> None:
        """``sid`` was handed to the pool now."""
        self.started_at[sid] = self.clock.now()

    def failure(self, sid: str, exc: Exception) -> tuple[OutcomeStatus, str]:
        """A failed step's status: ``blocked`` once conflicts spent its retry budget."""
        spent = self.attempts_so_far(sid)
        if isinstance(exc, Conflict) and spent >= self.limits.conflict_retry_budget:
            LOG.error("step blocked: retry budget spent", step=sid, attempts=spent)
            return OutcomeStatus.BLOCKED, f"{BUDGET_SPENT} ({spent} attempts): {describe(exc)}"
        return OutcomeStatus.FAILED, describe(exc)

    def attempts_so_far(self, sid: str) -> int:
        """This run's attempts of ``sid`` and those of the earlier runs that did not finish it."""
        before = self.previous.get(sid)
        carried = before.attempts if before and not before.status.successful else 0
        return carried + self.attempts.count.get(sid, 0)

    def outcome(
        self,
        sid: str,
        status: OutcomeStatus,
        reason: str,
        used_by: tuple[Mapping[str, str], ...] = (),
    ) -> Outcome:
        """The final word on ``sid``, with its attempts, retries and times."""
        return Outcome(
            step_id=sid,
            status=status,
            reason=reason,
            attempts=self.attempts_so_far(sid),
            retries=tuple(self.attempts.retries.get(sid, ())),
            started_at=self.started_at.get(sid),
            finished_at=self.clock.now(),
            used_by=used_by,
        )

    def recorded(self, step: Step, outcome: Outcome) -> Outcome:
        """``outcome`` once the observer recorded it; a failed step if it could not.

        A step whose outcome is not in the store and the trail did not happen
        as far as anyone can later prove: it fails (its dependents are
        blocked, the tombstone is not complete) and the next run re-checks
        it before anything is sent again.
        """
        try:
            self.observer.step_finished(step, outcome, self.resources.get(step.resource))
        except Exception as exc:  # an observer must not wedge the run
            LOG.error("step outcome not recorded", step=step.id, error=describe(exc))
            return dataclasses.replace(
                outcome,
                status=OutcomeStatus.FAILED,
                reason=f"{outcome.status.value} but not recorded: {describe(exc)}",
            )
        return outcome
