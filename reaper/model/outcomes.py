"""What became of each step: the executor's final word, as the store and the audit keep it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass

#: How the reason of a step blocked by its retry budget starts (not by a dependency).
BUDGET_SPENT = "retry budget spent"


class OutcomeStatus(str, enum.Enum):
    DONE = "done"
    ALREADY_GONE = "already_gone"
    SKIPPED = "skipped"
    FAILED = "failed"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    HELD = "held"
    #: Not run: a project that still exists uses the resource (found when the step was
    #: about to run, or a dependency was kept so). Neither done nor failed: the
    #: tombstone waits (``TombstoneState.WAITING``) and the sweep comes back for it.
    KEPT = "kept"

    @property
    def successful(self) -> bool:
        return self in (OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE)


@dataclass(frozen=True)
class Outcome:
    """The final word on one step."""

    step_id: str
    status: OutcomeStatus
    reason: str = ""
    attempts: int = 0
    #: One line per retried failure, for the audit trail.
    retries: tuple[str, ...] = ()
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    #: For a step kept because a live project uses its resource: the uses found when it
    #: ran, ``{project_id, type, id, detail, kind}`` each (``reaper_used_by``'s shape).
    #: In the audit record and the stored outcome.
    used_by: tuple[Mapping[str, str], ...] = ()
