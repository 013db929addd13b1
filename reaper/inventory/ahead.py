"""Live-use lookups sent while discovery still lists: each finder once its resources are in.

Live use (:mod:`.liveuse`) asks, by resource, who else uses what the
owner leaves behind. Asked after every handler had run, its listings (the
ports on the owner's networks, the rules naming its groups) waited for the
slowest service's last listing, then took their own round trips on top: on
a loaded cloud, a third of a deletion's reaction. A finder only reads the
resources of a few types (:data:`~reaper.inventory.uses.READS`), and each
handler declares the types it finds (``Handler.types``): once every handler
of a finder's types has returned, nothing discovery still does can change
what the finder is given, so its lookups are built and sent then, beside
the listings still running.

Invariants (the plan is what it was when live use came last):

* a finder is given exactly what it would be given after all of discovery:
  the resources of the types it reads (with the objects of the owner's RBAC
  entries), in the same order. :meth:`Ahead.outcome` hands the early
  answers over only if that view is still the same once everything is in
  (a handler found a type it does not declare, a cross-reference added
  one); otherwise they are dropped and the finder is asked again;
* answers and errors are :class:`~reaper.inventory.lookups.Answer`, judged by
  :mod:`.liveuse` exactly as its own (a failed lookup fails closed there);
* only read-only listings and GETs, as before: nothing here mutates, and
  each request still takes its slot of the process's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from reaper import log
from reaper.inventory import lookups
from reaper.inventory.base import Finding, Scope
from reaper.inventory.use import Lookup, Use
from reaper.inventory.uses import FINDERS, RBAC_OBJECTS, READS, rbac_objects
from reaper.model import Resource, ResourceRef

LOG = log.get(__name__)

Listed = list[tuple[ResourceRef, Use]]
#: Runs a job on a worker: ``ThreadPoolExecutor.submit`` (a test's own executor).
Submit = Callable[[Callable[[], lookups.Answer[Listed]]], "Future[lookups.Answer[Listed]]"]
#: What the objects of RBAC entries (looked at with the finders' resources) depend on.
RBAC_VIEW = frozenset({"network.rbac_policy", *RBAC_OBJECTS.values()})


@dataclass(frozen=True)
class Outcome:
    """A finder's answers, in the order of its lookups, or why its lookups were not built."""

    error: Exception | None = None
    answers: tuple[lookups.Answer[Listed], ...] = ()


@dataclass(frozen=True)
class _Started:
    view: tuple[Resource, ...]
    error: Exception | None = None
    answers: tuple[Future[lookups.Answer[Listed]], ...] = ()


def view(name: str, looked_at: Iterable[Resource]) -> tuple[Resource, ...]:
    """What finder ``name`` reads of ``looked_at``: the resources of its :data:`READS` types."""
    reads = READS[name]
    return tuple(r for r in looked_at if r.type in reads)


def depends_on(name: str) -> frozenset[str]:
    """The types whose handlers must be done before finder ``name``'s view is final."""
    reads = READS[name]
    return reads | RBAC_VIEW if reads & RBAC_VIEW else reads


@dataclass
class Ahead:
    """The finders started during one discovery (the discovering thread alone calls it).

    ``producers``: each handler that runs, by name, and the types it declares.
    """

    conn: Any
    scope: Scope
    producers: Mapping[str, frozenset[str]]
    submit: Submit
    _done: dict[str, Finding] = field(default_factory=dict)
    _started: dict[str, _Started] = field(default_factory=dict)

    def handler_done(self, name: str, finding: Finding) -> None:
        """``name`` returned ``finding``: start every finder nothing running can change."""
        self._done[name] = finding
        pending = {h for h in self.producers if h not in self._done}
        resources = [r for h in sorted(self._done) for r in self._done[h].resources]
        looked_at: list[Resource] | None = None
        for finder_name, finder, types in FINDERS:
            if finder_name in self._started:
                continue
            needed = depends_on(finder_name)
            if any(self.producers[h] & needed for h in pending):
                continue
            if looked_at is None:
                looked_at = [*resources, *rbac_objects(resources, self.scope)]
            seen = view(finder_name, looked_at)
            if not any(r.type in types for r in seen):
                self._started[finder_name] = _Started(view=seen)
                continue
            self._started[finder_name] = self._start(finder, seen)

    def outcome(self, name: str, looked_at: Sequence[Resource]) -> Outcome | None:
        """Finder ``name``'s answers if it was started from ``looked_at``'s view, else None.

        Waits for its lookups still in flight.
        """
        started = self._started.get(name)
        if started is None:
            return None
        if started.view != view(name, looked_at):
            LOG.info("live-use finder started early saw other resources: asked again", lookup=name)
            return None
        return Outcome(started.error, tuple(f.result() for f in started.answers))

    def _start(self, finder: Callable[..., list[Lookup]], seen: tuple[Resource, ...]) -> _Started:
        try:
            jobs = finder(self.conn, self.scope, list(seen))
        except Exception as exc:  # judged by liveuse, as a finder that failed there
            return _Started(view=seen, error=exc)
        return _Started(view=seen, answers=tuple(self.submit(_attempt(job)) for job in jobs))


def _attempt(job: Lookup) -> Callable[[], lookups.Answer[Listed]]:
    return lambda: lookups.attempt(job)
