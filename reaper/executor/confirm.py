"""The confirmation poller: asynchronous removals are done when a listing says so.

Listings are batched: one per (resource type, action) at a time, whatever
the number of resources waiting, and kinds are listed side by side in a
small pool (waiting for several types costs the slowest listing, not their
sum). A kind's next listing starts ``confirm_interval`` after its previous
one *ended* (or, for its first, after what removals of the kind usually
took: :mod:`~reaper.executor.durations`), never sooner; while
its listings confirm nothing the gap grows by half each time, up to
``confirm_max_interval``, and it shrinks back a step with each listing that
confirms something. While more deletions of a kind are still to be sent, its
listing waits for them, up to ``confirm_max_interval`` after the oldest
waiting one. A kind whose confirmation would free no step yet (its
dependents also wait for something that moves without it: snapshots while
the servers still hold their volumes) is held, listed once that changes or
once its oldest removal has waited ``confirm_timeout``; the scheduler says
which (:mod:`~reaper.executor.holds`). A held kind teaches
:mod:`~reaper.executor.durations` nothing: its listing came late by choice.
A resource still listed after ``confirm_timeout`` fails.

Whoever watches (:mod:`reaper.progress`; ``reaper apply`` on stderr) is told
what is still awaited, at most every :data:`SAY_EVERY` seconds and only once
a wait has lasted that long: ``waiting for 3 volume(s) to go (12 s of 600)``.
The report is made from :meth:`start_due`, in the run's calling thread, where
the watcher lives.

Methods are called with the run's lock held, except the listing itself,
which runs in the pool and takes the lock to record what it found. Verdicts
go back to the run through ``complete``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import math
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Protocol

from reaper import log, progress
from reaper.executor.clock import Clock
from reaper.executor.contract import Confirmation, Limits, Runner
from reaper.executor.durations import Durations
from reaper.executor.retry import describe
from reaper.model import OutcomeStatus, Resource, Step

LOG = log.get(__name__)

#: (resource type, action)
Kind = tuple[str, str]
#: id -> (step id, when its removal was accepted, resource)
Entries = Mapping[str, tuple[str, float, Resource]]
Complete = Callable[[str, OutcomeStatus, str], None]


class Held(Protocol):
    """Which kinds' listings can wait (:class:`~reaper.executor.holds.Holds`)."""

    def kinds(self) -> Collection[Kind]: ...

    def recheck_in(self) -> float | None: ...


class _NoHolds:
    def kinds(self) -> Collection[Kind]:
        return ()

    def recheck_in(self) -> float | None:
        return None


NO_HOLDS = _NoHolds()


#: Seconds between two reports of what is still awaited (and before the first).
SAY_EVERY = 10.0


def waiting_line(key: Kind, entries: Entries, now: float, limits: Limits) -> str:
    """``waiting for 3 volume(s) to go (12 s of 600)``: the oldest wait against the timeout."""
    rtype, action = key
    kind = rtype.split(".", 1)[-1]
    oldest = min(since for _, since, _ in entries.values())
    what = "to go" if action == "delete" else f"to be confirmed ({action})"
    return (
        f"waiting for {len(entries)} {kind}(s) {what} "
        f"({now - oldest:.0f} s of {limits.confirm_timeout:.0f})"
    )


def _confirmed(action: str) -> str:
    return "confirmed gone by listing" if action == "delete" else "confirmed by listing"


class ConfirmationPoller:
    def __init__(
        self,
        runner: Runner,
        limits: Limits,
        clock: Clock,
        lock: threading.Condition,
        complete: Complete,
        durations: Durations | None = None,
    ) -> None:
        self.runner = runner
        #: What removals took lately (the process's, in a controller), for the first listing.
        self.durations = durations or Durations()
        #: Pending ids an earlier listing still showed (their confirmation is no first one).
        self.shown: set[tuple[Kind, str]] = set()
        self.limits = limits
        self.clock = clock
        self.lock = lock
        self.complete = complete
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="reaper-confirm"
        )
        #: Accepted removals not confirmed yet, by kind.
        self.pending: dict[Kind, dict[str, tuple[str, float, Resource]]] = collections.defaultdict(
            dict
        )
        #: Per kind: when its next listing is due, whether one is in flight, and how
        #: many listings in a row confirmed nothing (counted no higher than the step
        #: that reaches the longest gap, so that a long wait does not take as many
        #: listings to recover from).
        self.next_listing: dict[Kind, float] = {}
        self.listing: set[Kind] = set()
        self.quiet: collections.Counter[Kind] = collections.Counter()
        self.quiet_top = math.ceil(
            math.log(max(limits.confirm_max_interval / limits.confirm_interval, 1.0), 1.5)
        )
        #: Per kind: steps not yet accepted or finished (deletions still to send).
        self.unsent: dict[Kind, set[str]] = collections.defaultdict(set)
        #: When the watcher was last told what is awaited.
        self.said_at: float | None = None
        #: Per kind: when it was last found held (its listing put off by choice).
        self.held_at: dict[Kind, float] = {}

    def expect(self, steps: Iterable[Step]) -> None:
        for step in steps:
            self.unsent[(step.resource.type, step.action)].add(step.id)

    @property
    def busy(self) -> bool:
        """Whether any accepted removal still waits for its confirmation."""
        return bool(self.pending)

    def accepted(self, step: Step, resource: Resource) -> None:
        """``step``'s removal was accepted: confirm it by a listing."""
        key = (step.resource.type, step.action)
        now = self.clock.monotonic()
        if not self.pending.get(key):
            # A deletion just accepted is rarely done: list once it usually is, and
            # not sooner than the pace of this kind's earlier listings allows.
            wait = self.durations.first_wait(
                key, self.limits.confirm_interval, self.limits.confirm_timeout
            )
            self.next_listing[key] = max(self.next_listing.get(key, 0.0), now + wait)
        self.pending[key][step.resource.id] = (step.id, now, resource)
        self.unsent[key].discard(step.id)

    def settled(self, step: Step) -> None:
        """``step`` has an outcome: it is no deletion still to be sent."""
        self.unsent[(step.resource.type, step.action)].discard(step.id)

    def waits_turn(self, step: Step) -> None:
        """``step`` waits in its type's window: sent only once a listing confirms another.

        Not one to wait for, then: a listing held back for it would hold it back.
        """
        self.unsent[(step.resource.type, step.action)].discard(step.id)

    def start_due(self, holds: Held = NO_HOLDS) -> list[float]:
        """Start the listings that are due; seconds until each of the others is.

        ``holds``: which kinds' listings can wait, asked only when one is due
        (and when it means to look again).
        """
        now = self.clock.monotonic()
        upcoming: list[float] = []
        keys = sorted(k for k, p in self.pending.items() if p and k not in self.listing)
        dues = {key: self._listing_due(key) for key in keys}
        holding = holds.kinds() if any(d <= now for d in dues.values()) else ()
        if holding:  # only a held listing awaits a fresh verdict (a stale one says 0 s: spin)
            upcoming += [t for t in (holds.recheck_in(),) if t is not None]
        for key in keys:
            due = dues[key]
            if key in holding:
                self.held_at[key] = now
                oldest = min(since for _, since, _ in self.pending[key].values())
                due = max(due, oldest + self.limits.confirm_timeout)
            if due <= now:
                self.listing.add(key)
                self.pool.submit(self._confirm_batch, key, dict(self.pending[key]))
            else:
                upcoming.append(due - now)
        self._say_waiting(now)
        return upcoming

    def _say_waiting(self, now: float) -> None:
        """Tell the watcher what is still awaited, once a wait is long enough to wonder."""
        waiting = {k: p for k, p in self.pending.items() if p}
        if not waiting:
            return
        oldest = min(since for p in waiting.values() for _, since, _ in p.values())
        if now - oldest < SAY_EVERY:
            return
        if self.said_at is not None and now - self.said_at < SAY_EVERY:
            return
        self.said_at = now
        progress.report(
            "; ".join(waiting_line(k, p, now, self.limits) for k, p in sorted(waiting.items()))
        )

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

    def _listing_due(self, key: Kind) -> float:
        """When the next listing of ``key`` should start (see the module docstring)."""
        due = self.next_listing.get(key, 0.0)
        if self.unsent.get(key):
            oldest = min(since for _, since, _ in self.pending[key].values())
            due = max(due, oldest + self.limits.confirm_max_interval)
        return due

    def _confirm_batch(self, key: Kind, entries: Entries) -> None:
        """One listing for ``key``, its verdicts, and when to list next (in the pool)."""
        rtype, action = key
        confirmation = Confirmation()
        sent_at = self.clock.monotonic()
        try:
            confirmation = self.runner.confirm(
                rtype, action, {rid: res for rid, (_, _, res) in entries.items()}
            )
        except Exception as exc:  # a failed listing proves nothing; try again later
            LOG.warning("confirmation listing failed", type=rtype, error=describe(exc))
        try:
            self._judge(key, entries, confirmation, sent_at)
        except Exception as exc:  # a listing runs in the background: nobody else would see it
            LOG.error("confirmation verdicts failed", type=rtype, error=describe(exc))
        finally:
            settled = any(rid in confirmation.gone or rid in confirmation.failed for rid in entries)
            limits = self.limits
            with self.lock:
                self.listing.discard(key)
                # Down one step per listing that found something, not straight back to
                # the interval: deletions that trickle out of a loaded service are
                # collected by fewer listings, and a kind whose listings keep finding
                # something is soon listed at the interval again.
                quiet = self.quiet[key]
                self.quiet[key] = max(0, quiet - 1) if settled else min(self.quiet_top, quiet + 1)
                gap = limits.confirm_interval * 1.5 ** self.quiet[key]
                gap = max(limits.confirm_interval, min(gap, limits.confirm_max_interval))
                self.next_listing[key] = self.clock.monotonic() + gap
                self.lock.notify_all()

    def _judge(
        self, key: Kind, entries: Entries, confirmation: Confirmation, sent_at: float
    ) -> None:
        action = key[1]
        now = self.clock.monotonic()
        gone = [
            (since, (key, rid) not in self.shown)
            for rid, (_, since, _) in entries.items()
            if rid in confirmation.gone
        ]
        oldest = min((since for since, _ in gone), default=now)
        # One lesson per listing: how long after the oldest acceptance it confirmed.
        if gone and self.held_at.get(key, -math.inf) < oldest:
            self.durations.confirmed(key, sent_at - oldest, first=all(f for _, f in gone))
        for rid, (sid, since, _) in entries.items():
            if rid in confirmation.gone:
                self._resolve(key, rid, sid, OutcomeStatus.DONE, _confirmed(action))
            elif rid in confirmation.failed:
                self._resolve(key, rid, sid, OutcomeStatus.FAILED, confirmation.failed[rid])
            elif now - since > self.limits.confirm_timeout:
                self._resolve(
                    key,
                    rid,
                    sid,
                    OutcomeStatus.FAILED,
                    f"still listed {self.limits.confirm_timeout:.0f}s after deletion",
                )
            else:
                with self.lock:
                    self.shown.add((key, rid))

    def _resolve(self, key: Kind, rid: str, sid: str, status: OutcomeStatus, reason: str) -> None:
        with self.lock:
            self.pending[key].pop(rid, None)
            self.shown.discard((key, rid))
            if not self.pending[key]:
                del self.pending[key]
        self.complete(sid, status, reason)
