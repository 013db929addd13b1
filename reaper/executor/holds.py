"""Which confirmation listings can wait: kinds whose confirmation would free nothing yet.

A listing buys two things: a step that waited for the removals it confirms
can start, and the plan gets nearer its end. Snapshots listed while the
servers still hold their volumes buy neither: each volume waits for its
server too, so the snapshot listing sent before the server's is confirmed
frees nothing, and a tenant's cleanup sent five to eight of them.

A pending kind (resource type, action) is *eager*, listed at its usual pace,
when one of its pending steps

* has no dependent left without an outcome (its confirmation is the plan's end), or
* has a dependent whose other unfinished dependencies are all pending
  removals of the same kind (one listing of the kind could free it);

and always when steps of its type wait in their window (they are sent only
as listings confirm others). A kind that is not eager is *held* when every
unfinished dependent of every pending step of it also waits for something
that will move without this listing: a step not awaiting confirmation
(running, waiting for its own dependencies, for a lookup), or a removal of
an eager kind. Otherwise it is listed at its usual pace too. A request in
flight of a kind no removal was accepted of yet (a router's, a network's: done
when answered) is about to finish: it holds nothing, so the listing it would
otherwise wait for overlaps it (the last network deletions, at a plan's end,
with the listing the quota releases wait for).

Held kinds cannot hold each other up: follow what a held kind's dependents
wait for down to a step that waits only for confirmations. If those are of
one kind, that kind is eager; if of several, each of them is held only if
another is eager; so some listing or some running step always moves. The
poller still lists a held kind once its oldest removal has waited
``confirm_timeout`` (a removal still listed then fails, as always), and
nothing is held once the run is stopping (the dependents will not start).

:func:`held` is pure: the scheduler hands in its graph with the run's lock
held, through :class:`Holds`, which keeps a verdict until the graph changes.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Collection, Container, Iterable, Mapping
from typing import Any, Protocol

from reaper.executor.window import Window

#: (resource type, action)
Kind = tuple[str, str]


def held(
    pending: Mapping[Kind, Iterable[str]],
    dependents: Callable[[str], Iterable[str]],
    waiting_on: Mapping[str, Collection[str]],
    finished: Container[str],
    eager: Collection[Kind] = (),
    finishing: Container[str] = (),
) -> set[Kind]:
    """The pending kinds whose listing can wait (see the module docstring).

    ``pending``: step ids awaiting a confirmation listing, by kind;
    ``waiting_on``: each unfinished step's unfinished dependencies;
    ``eager``: kinds listed at their usual pace whatever their dependents;
    ``finishing``: steps about to finish, waited for by nobody's listing.
    """
    kind_of = {sid: kind for kind, sids in pending.items() for sid in sids}
    summaries: dict[str, tuple[bool, frozenset[Kind]]] = {}

    def summary(step: str) -> tuple[bool, frozenset[Kind]]:
        """Whether ``step`` waits for a step not awaiting confirmation; the kinds it awaits."""
        if step not in summaries:
            kinds: collections.Counter[Kind] = collections.Counter()
            moving = False
            for dep in waiting_on.get(step, ()):
                kind = kind_of.get(dep)
                if dep in finishing:
                    continue
                if kind is None:
                    moving = True
                else:
                    kinds[kind] += 1
            summaries[step] = (moving, frozenset(kinds))
        return summaries[step]

    live: dict[Kind, list[str]] = {}
    listed = set(eager) & set(pending)
    for kind, sids in pending.items():
        found: list[str] = []
        for sid in sids:
            mine = [d for d in dependents(sid) if d not in finished]
            if not mine:
                listed.add(kind)
            for dep in mine:
                moving, kinds = summary(dep)
                if not moving and kinds <= {kind}:
                    listed.add(kind)
                found.append(dep)
        live[kind] = found
    holding = set()
    for kind in pending:
        if kind in listed:
            continue
        if all(_moves_without(kind, summary(dep), listed) for dep in live[kind]):
            holding.add(kind)
    return holding


def _moves_without(kind: Kind, summary: tuple[bool, frozenset[Kind]], listed: set[Kind]) -> bool:
    """Whether a dependent also waits for something that moves without ``kind``'s listing."""
    moving, kinds = summary
    return moving or any(k in listed for k in kinds if k != kind)


class Graph(Protocol):
    """What :class:`Holds` reads of the scheduler's dependencies."""

    waiting_on: Mapping[str, Collection[str]]

    def dependents_of(self, sid: str) -> Iterable[str]: ...


class Poller(Protocol):
    """What :class:`Holds` reads of the confirmation poller."""

    #: Removals awaiting confirmation, by kind: id -> (step id, ...).
    pending: Mapping[Kind, Mapping[str, tuple[str, float, Any]]]
    #: Steps not accepted nor finished yet, by kind.
    unsent: Mapping[Kind, Collection[str]]
    #: Every kind a removal was accepted of (when it is to be listed next).
    next_listing: Mapping[Kind, float]


class Holds:
    """:func:`held` for one run, its verdict kept until the graph changes.

    The scheduler asks at every wake-up while a listing is due; on a plan of
    thousands of steps one verdict takes a tenth of a second, with the run's
    lock held. So a verdict is kept until the graph changes (:meth:`changed`:
    an outcome, an accepted removal), and at least :data:`COST_SHARE` times
    what computing it took, so that it never takes more than about a
    twentieth of the run's time; :meth:`recheck_in` says when a verdict kept
    past a change is to be computed again. Nothing is held once ``stop`` is
    set. Called with the run's lock held.
    """

    #: A verdict is kept at least this many times what it took to compute.
    COST_SHARE = 20.0

    def __init__(
        self,
        poller: Poller,
        graph: Graph,
        finished: Container[str],
        running: Collection[str],
        window: Window,
        stop: threading.Event,
    ) -> None:
        """``running``: the steps sent (or queued for a lookup) and not finished yet."""
        #: A real clock, whatever the run's: what is kept is CPU time under the lock.
        self.clock: Callable[[], float] = time.perf_counter
        self.poller, self.graph, self.finished = poller, graph, finished
        self.running, self.window, self.stop = running, window, stop
        self.version = 0
        self.verdict: set[Kind] = set()
        self.verdict_version = -1
        self.kept_until = -math.inf

    def changed(self) -> None:
        self.version += 1

    def kinds(self) -> set[Kind]:
        """The held kinds: the kept verdict, or a new one."""
        if self.stop.is_set():
            return set()
        if self.verdict_version == self.version or self.clock() < self.kept_until:
            return self.verdict
        version, began = self.version, self.clock()
        self.verdict = self.compute()
        self.verdict_version = version
        ended = self.clock()
        self.kept_until = ended + self.COST_SHARE * (ended - began)
        return self.verdict

    def compute(self) -> set[Kind]:
        poller = self.poller
        pending = {k: [sid for sid, _, _ in p.values()] for k, p in poller.pending.items()}
        windowed = [k for k in pending if self.window.waiting_ids(k[0])]
        running = set(self.running)
        # In flight, of a kind never accepted: answered is done.
        finishing = {
            sid
            for kind, sids in poller.unsent.items()
            if kind not in poller.next_listing
            for sid in running.intersection(sids)
        }
        graph = self.graph
        return held(
            pending, graph.dependents_of, graph.waiting_on, self.finished, windowed, finishing
        )

    def recheck_in(self) -> float | None:
        """Seconds until a verdict kept past a change is due again; ``None``: it is current."""
        if self.verdict_version == self.version:
            return None
        return max(0.0, self.kept_until - self.clock())
