"""What a ready step's fate is before anything is sent: the executor's rules, pure.

In order: a dependency that did not succeed blocks it (or defers it, when
every such dependency was deferred; or keeps it, when each was kept for a
live project's use or deferred: a true dependant waits with what it
depends on, and a quota release, ordered after every other step only so
that it comes last, does not wait for a kept one at all); a grace period
not yet over defers it; the batched re-check says it is gone already, no
longer owned, in use by a live project (kept, with the uses) or protected
since the plan was made. Otherwise it runs (``None``). And what an attempt
settles, and what is settled before anything runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence

from reaper.executor.contract import (
    DRY_RUN_PREFIX,
    SATISFIED,
    Attempt,
    Checked,
    InUseNow,
    Precheck,
    Result,
)
from reaper.model import Outcome, OutcomeStatus, Step


def satisfies(outcome: Outcome, *, dry_run: bool) -> bool:
    """Whether a dependency's outcome lets its dependents run."""
    if outcome.status in SATISFIED:
        return True
    return (
        dry_run
        and outcome.status is OutcomeStatus.SKIPPED
        and outcome.reason.startswith(DRY_RUN_PREFIX)
    )


def is_removal(step: Step) -> bool:
    return step.action == "delete"


def is_quota(step: Step) -> bool:
    """A quota release: planned after every other step for order, not for their success."""
    return step.resource.type.endswith(".quota")


def before_running(
    step: Step,
    outcomes: Mapping[str, Outcome],
    *,
    dry_run: bool,
    created_at: dt.datetime,
    now: Callable[[], dt.datetime],
    check: Checked,
) -> Outcome | None:
    """The outcome ``step`` gets without being run, or ``None`` if it must run."""
    sid = step.id
    blocking = [d for d in step.depends_on if not satisfies(outcomes[d], dry_run=dry_run)]
    kept = [d for d in blocking if outcomes[d].status is OutcomeStatus.KEPT]
    if kept and is_quota(step):
        blocking, kept = [d for d in blocking if d not in kept], []
    if blocking:
        deferred = [d for d in blocking if outcomes[d].status is OutcomeStatus.DEFERRED]
        if deferred and len(deferred) + len(kept) == len(blocking):
            return Outcome(sid, OutcomeStatus.DEFERRED, f"waits for deferred step {deferred[0]}")
        if kept and len(kept) == len(blocking):
            return Outcome(
                sid,
                OutcomeStatus.KEPT,
                f"waits for {kept[0]}, kept: {outcomes[kept[0]].reason}"[:1000],
            )
        first = next(d for d in blocking if d not in deferred and d not in kept)
        return Outcome(
            sid, OutcomeStatus.BLOCKED, f"blocked by {first} ({outcomes[first].status.value})"
        )
    if step.after:
        due = created_at + step.after
        if now() < due:
            return Outcome(sid, OutcomeStatus.DEFERRED, f"grace period: due {iso(due)}")
    if check is Precheck.GONE and is_removal(step):
        return Outcome(sid, OutcomeStatus.ALREADY_GONE, "not listed any more")
    if check is Precheck.OWNER_CHANGED:
        return Outcome(sid, OutcomeStatus.SKIPPED, "no longer owned by the deleted identity")
    if isinstance(check, InUseNow):
        return Outcome(sid, OutcomeStatus.KEPT, check.reason[:1000], used_by=check.used_by)
    if check is Precheck.PROTECTED:
        return Outcome(sid, OutcomeStatus.SKIPPED, "protected since the plan was made")
    if check is Precheck.UNCHECKED:
        return Outcome(
            sid, OutcomeStatus.BLOCKED, "not re-checked: its service's listing failed just now"
        )
    return None


def known_before(
    order: Sequence[str], previous: Mapping[str, Outcome], only: Collection[str] | None
) -> dict[str, Outcome]:
    """Outcomes settled before anything runs: earlier successes, and steps not selected."""
    known = {
        sid: previous[sid] for sid in order if sid in previous and previous[sid].status in SATISFIED
    }
    if only is not None:
        for sid in order:
            if sid not in only and sid not in known:
                known[sid] = previous.get(sid) or Outcome(
                    sid, OutcomeStatus.SKIPPED, "not selected for this run"
                )
    return known


def settled_by(attempt: Attempt) -> tuple[OutcomeStatus, str] | None:
    """The outcome one attempt settles; ``None`` for an accepted removal (to confirm)."""
    if attempt.result is Result.GONE:
        return OutcomeStatus.ALREADY_GONE, attempt.detail or "404"
    if attempt.result is Result.WOULD:
        return OutcomeStatus.SKIPPED, DRY_RUN_PREFIX + attempt.detail
    if attempt.result is Result.ACCEPTED:
        return None
    return OutcomeStatus.DONE, attempt.detail


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
