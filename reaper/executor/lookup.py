"""The lookup batcher: removals likely gone with a step they waited for, listed first.

Nova deletes the ports it made for a server with the server; sending each
such removal only to hear 404 costs a request per resource. So a removal
the runner flags (``Runner.lookup_first``) is queued when it becomes ready,
and one listing per type covers the queue once no other step of that type
still waits for its dependencies, once the oldest entry has waited
``lookup_wait`` and the listing would let a step start, or when the run is
stopping. A listing that would let nothing start (every unfinished
dependent of the queued steps also waits for a step of the type still to be
looked up: a network waits for every server's port, and servers trickle out
of a loaded Nova for longer than ``lookup_wait``) waits for the others
however long: the later listing covers both, one request fewer. Those no longer listed are
``already_gone`` without a request; the others run. A failed listing
proves nothing: they all run. Nothing is looked up in a dry run (nothing is
removed that could take another along).

Called with the run's lock held, except :meth:`LookupBatcher.gone`, which
lists.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Collection, Container, Iterable, Mapping

from reaper import log
from reaper.executor.clock import Clock
from reaper.executor.contract import Confirmation, Limits, Runner
from reaper.executor.retry import describe
from reaper.executor.rules import is_removal
from reaper.model import Resource, ResourceRef, Step

LOG = log.get(__name__)

#: id -> (step id, resource, when it was queued)
Batch = dict[str, tuple[str, Resource, float]]
#: Whether listing these (queued) steps now would let no step start, given the steps
#: of their type still to be looked up later (:func:`frees_nothing` over the run's graph).
FreesNothing = Callable[[Collection[str], Collection[str]], bool]


def frees_nothing(
    steps: Collection[str],
    later: Collection[str],
    dependents: Callable[[str], Iterable[str]],
    waiting_on: Mapping[str, Collection[str]],
    finished: Container[str],
) -> bool:
    """Whether settling ``steps`` now would let no step start.

    True when every unfinished dependent of theirs also waits for one of
    ``later`` (steps of their type not ready yet, looked up after them):
    ``waiting_on`` holds each step's unfinished dependencies.
    """
    later = set(later)
    for sid in steps:
        for nxt in dependents(sid):
            if nxt not in finished and not later.intersection(waiting_on.get(nxt, ())):
                return False
    return True


def _frees_something(steps: Collection[str], later: Collection[str]) -> bool:
    return False


def in_graph(
    dependents: Callable[[str], Iterable[str]],
    waiting_on: Mapping[str, Collection[str]],
    finished: Container[str],
) -> FreesNothing:
    """:func:`frees_nothing` over a run's graph, as it stands whenever it is asked."""
    return lambda steps, later: frees_nothing(steps, later, dependents, waiting_on, finished)


class LookupBatcher:
    def __init__(
        self,
        runner: Runner,
        limits: Limits,
        clock: Clock,
        stop: threading.Event,
        frees_nothing: FreesNothing = _frees_something,
    ) -> None:
        self.runner = runner
        self.limits = limits
        self.clock = clock
        self.stop = stop
        self.frees_nothing = frees_nothing
        #: Ready removals to look up, by type.
        self.queued: dict[str, Batch] = collections.defaultdict(dict)
        #: Steps to look up that are not ready yet, by type: the listing waits for them.
        self.waiting: dict[str, set[str]] = collections.defaultdict(set)

    def expect(self, steps: Iterable[Step], resources: Mapping[ResourceRef, Resource]) -> None:
        """Note which steps of a run are to be looked up before they are sent."""
        for step in steps:
            resource = resources.get(step.resource)
            if resource is not None and self._looks_up_first(step, resource):
                self.waiting[step.resource.type].add(step.id)

    def _looks_up_first(self, step: Step, resource: Resource) -> bool:
        if not is_removal(step):
            return False
        # Runners written before lookups existed simply never ask for one.
        ask = getattr(self.runner, "lookup_first", None)
        return bool(ask is not None and ask(step, resource))

    def take(self, step: Step, resource: Resource) -> bool:
        """Queue ``step`` (ready now) if it is to be looked up first; whether it was."""
        waiting = self.waiting.get(step.resource.type)
        if not (waiting and step.id in waiting):
            return False
        waiting.discard(step.id)
        self.queued[step.resource.type][step.resource.id] = (
            step.id,
            resource,
            self.clock.monotonic(),
        )
        return True

    def forget(self, step: Step) -> None:
        """``step`` has an outcome without a lookup (blocked, skipped...): none waits for it."""
        waiting = self.waiting.get(step.resource.type)
        if waiting:
            waiting.discard(step.id)

    def due(self) -> dict[str, Batch]:
        """The batches to list now, taken out of the queue.

        A type's batch is due when no other step of that type still waits
        for its dependencies, when its oldest entry has waited
        ``lookup_wait`` (a bound, not a deadline anyone depends on: it keeps
        a slow branch from holding a fast one) unless the listing would let
        no step start yet, or when the run is stopping.
        """
        now = self.clock.monotonic()
        due = {}
        for rtype, entries in list(self.queued.items()):
            if not entries:
                del self.queued[rtype]
                continue
            if (
                self.stop.is_set()
                or not self.waiting.get(rtype)
                or self._waited(now, rtype, entries)
            ):
                due[rtype] = dict(entries)
                del self.queued[rtype]
        return due

    def _waited(self, now: float, rtype: str, entries: Batch) -> bool:
        """Whether ``entries`` have waited ``lookup_wait`` for a listing that would free a step."""
        oldest = min(queued for _, _, queued in entries.values())
        if now - oldest < self.limits.lookup_wait:
            return False
        steps = [sid for sid, _, _ in entries.values()]
        return not self.frees_nothing(steps, self.waiting.get(rtype, set()))

    def next_in(self) -> float | None:
        """Seconds until the oldest queued lookup is due by ``lookup_wait``; None if none.

        A batch past ``lookup_wait`` and still queued waits for the graph to
        change (a step queued or finished), which wakes the run anyway.
        """
        now = self.clock.monotonic()
        waits = [
            oldest + self.limits.lookup_wait - now
            for oldest in (
                min(q for _, _, q in entries.values())
                for entries in self.queued.values()
                if entries
            )
        ]
        ahead = [w for w in waits if w > 0]
        return min(ahead) if ahead else None

    def gone(self, rtype: str, entries: Batch) -> frozenset[str]:
        """One listing of ``rtype``: the ids of ``entries`` no longer listed (lock not held)."""
        try:
            confirmation = self.runner.confirm(
                rtype, "delete", {rid: res for rid, (_, res, _) in entries.items()}
            )
        except Exception as exc:  # proves nothing: send the requests
            LOG.warning("lookup listing failed", type=rtype, error=describe(exc))
            confirmation = Confirmation()
        return frozenset(confirmation.gone)
