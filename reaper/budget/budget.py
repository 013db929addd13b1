"""The controller's budget: per-service slots shared by every thread of the process.

Every request to the cloud (a discovery listing, a step's DELETE, a
confirmation listing, a read retried) takes a slot of its service from the
one :class:`Budget` of the process before it is sent and gives it back when
the answer is in, so ``[executor] compute_concurrency = 8`` means 8
requests in flight to Nova from the whole controller, whatever the number
of workers and plans. A thread that already holds a slot of a service
(keystoneauth asking for a version document inside a request) does not
take a second one: nested requests cannot deadlock on a cap of 1.

A 429 or 503 slows the service down for the whole process
(:mod:`~reaper.budget.pace`): no new request to it is sent before its
``Retry-After`` has passed, and its limit is halved, then raised one by one
as answers come back fine.

With a :class:`~reaper.budget.shared.SharedSlots` (PostgreSQL or MariaDB
stores), a request also needs one of the service's cloud-wide slots held by
this controller: the cap is then shared by every controller of the cloud.

Invariant: at any moment, the requests in flight to a service from this
process are at most ``min(limit, slots held)`` <= its cap, whichever thread
sent them (a limit lowered below the number in flight lets nothing new
start until enough have finished).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from reaper import log
from reaper.budget import retry_after
from reaper.budget.pace import Pace, PaceRules
from reaper.model import utcnow

LOG = log.get(__name__)

#: Answers that mean "slow down".
THROTTLED = frozenset({429, 503})


class Shared(Protocol):
    """Cloud-wide slots (:class:`reaper.budget.shared.SharedSlots`)."""

    #: How long to wait before asking again for a slot none was free of.
    poll: float

    def take(self, service: str, now: float) -> bool:
        """Use one of the slots of ``service`` this process holds, if one is free."""

    def give(self, service: str) -> None:
        """A request that took a slot is answered."""

    def grow(self, service: str, cap: int, want: int = 1) -> bool:
        """Claim up to ``want`` more slots of ``service`` (I/O); whether any was free."""


class Budget:
    """Per-service slots, pauses and limits for every thread of one process."""

    def __init__(
        self,
        caps: Mapping[str, int],
        *,
        default_cap: int = 4,
        rules: PaceRules | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
        shared: Shared | None = None,
    ) -> None:
        self.caps = dict(caps)
        self.default_cap = default_cap
        self.rules = rules or PaceRules()
        self.monotonic = monotonic
        self.now = now
        self.shared = shared
        self._cond = threading.Condition()
        self._paces: dict[str, Pace] = {}
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._peak: collections.Counter[str] = collections.Counter()
        #: Seconds requests spent waiting for a slot (a pause, the limit, the cloud's cap).
        self._waited: collections.Counter[str] = collections.Counter()
        self._growing: set[str] = set()
        #: Requests waiting for a slot, per service (a claim asks for as many).
        self._wanting: collections.Counter[str] = collections.Counter()
        #: Until when the store is not asked for another slot of a service (none was free).
        self._dry_until: dict[str, float] = {}
        self._mine = threading.local()

    def cap_of(self, service: str) -> int:
        return self.caps.get(service, self.default_cap)

    def attach(self, shared: Shared | None) -> None:
        """Share the caps with other controllers from now on (``None``: this process only)."""
        with self._cond:
            self.shared = shared
            self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self, service: str) -> Iterator[float]:
        """Hold one of ``service``'s slots while the body sends a request; yields when sent."""
        held = self._held_here()
        if held[service]:
            held[service] += 1
            try:
                yield self.monotonic()
            finally:
                held[service] -= 1
            return
        sent_at, shared = self._acquire(service)
        held[service] += 1
        try:
            yield sent_at
        finally:
            held[service] -= 1
            with self._cond:
                self._in_flight[service] -= 1
                if shared is not None:
                    shared.give(service)
                self._cond.notify_all()

    def answered(
        self, service: str, status: int | None, headers: Mapping[str, Any] | None, sent_at: float
    ) -> None:
        """What the service answered to a request sent at ``sent_at`` (``None``: no answer)."""
        if status is None:
            return
        with self._cond:
            pace = self._pace(service)
            if status not in THROTTLED:
                if pace.succeeded():
                    self._cond.notify_all()
                return
            hint = retry_after.of_headers(headers, self.now())
            throttle = pace.throttled(self.monotonic(), hint, sent_at)
        if throttle.capped_from is not None:
            LOG.warning(
                "Retry-After longer than [executor] retry_after_max: waiting the maximum",
                service=service,
                retry_after=round(throttle.capped_from, 1),
                retry_after_max=self.rules.retry_after_max,
            )
        if throttle.lowered:
            LOG.warning(
                "service asks to slow down: new requests paused, concurrency lowered",
                service=service,
                status=status,
                pause=round(throttle.pause, 2),
                limit=throttle.limit,
                cap=self.cap_of(service),
            )

    def paused_for(self, service: str) -> float:
        """Seconds before a new request to ``service`` may be sent."""
        with self._cond:
            return self._pace(service).wait(self.monotonic())

    def limit_of(self, service: str) -> int:
        with self._cond:
            return self._pace(service).limit

    def peaks(self) -> dict[str, int]:
        """The most requests ever in flight at once, per service, in this process."""
        with self._cond:
            return dict(self._peak)

    def waited(self) -> dict[str, float]:
        """Seconds requests waited for a slot, per service, in this process (all threads)."""
        with self._cond:
            return dict(self._waited)

    # -- inside -------------------------------------------------------------------

    def _held_here(self) -> collections.Counter[str]:
        held = getattr(self._mine, "held", None)
        if held is None:
            held = self._mine.held = collections.Counter()
        return held

    def _pace(self, service: str) -> Pace:
        pace = self._paces.get(service)
        if pace is None:
            pace = self._paces[service] = Pace(self.cap_of(service), self.rules)
        return pace

    def _acquire(self, service: str) -> tuple[float, Shared | None]:
        """Wait for the pause to end and a slot to be free; take it. Whose slot it is too."""
        with self._cond:
            asked = self.monotonic()
            self._wanting[service] += 1
            try:
                return self._wait_for(service, asked)
            finally:
                self._wanting[service] -= 1

    def _wait_for(self, service: str, asked: float) -> tuple[float, Shared | None]:
        """:meth:`_acquire`'s loop (lock held)."""
        while True:
            pace = self._pace(service)
            now = self.monotonic()
            wait: float | None = pace.wait(now)
            if not wait:
                wait = None
                if self._in_flight[service] < pace.limit:
                    shared = self.shared
                    if shared is None or shared.take(service, now):
                        self._in_flight[service] += 1
                        self._peak[service] = max(self._peak[service], self._in_flight[service])
                        self._waited[service] += now - asked
                        return now, shared
                    dry = self._dry_until.get(service, 0.0) - now
                    if service not in self._growing and dry <= 0:
                        self._grow(shared, service)
                        continue
                    # Another thread is claiming (it notifies), or none was free
                    # anywhere a moment ago: a slot given back here notifies too.
                    wait = dry if dry > 0 else None
            self._cond.wait(timeout=wait)

    def _grow(self, shared: Shared, service: str) -> None:
        """Claim one more cloud-wide slot, the lock released while the store is asked."""
        self._growing.add(service)
        # As many as wait for one, within the limit: a burst is one claim, not one each.
        room = self._pace(service).limit - self._in_flight[service]
        want = max(1, min(self._wanting[service], room))
        self._cond.release()
        try:
            got = shared.grow(service, self.cap_of(service), want)
        except Exception as exc:  # the store down: no new slot, ask again later
            LOG.warning("could not claim a cloud-wide slot", service=service, error=str(exc))
            got = False
        finally:
            self._cond.acquire()
            self._growing.discard(service)
            self._cond.notify_all()
        if not got:  # nobody asks the store again for a while
            self._dry_until[service] = self.monotonic() + shared.poll
