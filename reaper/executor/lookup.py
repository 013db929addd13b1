"""The lookup batcher: removals likely gone with a step they waited for, listed first.

Nova deletes the ports it made for a server with the server; sending each
such removal only to hear 404 costs a request per resource. So a removal
the runner flags (``Runner.lookup_first``) is queued when it becomes ready,
and one listing per type covers the queue once no other step of that type
still waits for its dependencies, once the oldest entry has waited
``lookup_wait``, or when the run is stopping. Those no longer listed are
``already_gone`` without a request; the others run. A failed listing
proves nothing: they all run. Nothing is looked up in a dry run (nothing is
removed that could take another along).

Called with the run's lock held, except :meth:`LookupBatcher.gone`, which
lists.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Mapping

from reaper import log
from reaper.executor.clock import Clock
from reaper.executor.contract import Confirmation, Limits, Runner
from reaper.executor.retry import describe
from reaper.executor.rules import is_removal
from reaper.model import Resource, ResourceRef, Step

LOG = log.get(__name__)

#: id -> (step id, resource, when it was queued)
Batch = dict[str, tuple[str, Resource, float]]


class LookupBatcher:
    def __init__(self, runner: Runner, limits: Limits, clock: Clock, stop: threading.Event) -> None:
        self.runner = runner
        self.limits = limits
        self.clock = clock
        self.stop = stop
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
        a slow branch from holding a fast one), or when the run is stopping.
        """
        now = self.clock.monotonic()
        due = {}
        for rtype, entries in list(self.queued.items()):
            if not entries:
                del self.queued[rtype]
                continue
            oldest = min(queued for _, _, queued in entries.values())
            if (
                self.stop.is_set()
                or not self.waiting.get(rtype)
                or now - oldest >= self.limits.lookup_wait
            ):
                due[rtype] = dict(entries)
                del self.queued[rtype]
        return due

    def next_in(self) -> float | None:
        """Seconds until the oldest queued lookup is due by ``lookup_wait``; None if none."""
        if not self.queued:
            return None
        now = self.clock.monotonic()
        oldest = min(q for entries in self.queued.values() for _, _, q in entries.values())
        return max(0.0, oldest + self.limits.lookup_wait - now)

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
