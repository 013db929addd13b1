"""Cloud-wide caps: request slots leased from the store, shared by every controller.

With a PostgreSQL or MariaDB store (``[executor] shared_concurrency``), a
request needs, besides a place under its service's local limit, one of the
service's cloud-wide slots that this controller holds: ``compute_concurrency
= 8`` is then 8 requests to Nova in flight from all controllers together.
The slots are rows of the store's ``budget_slots`` table
(:mod:`reaper.store.slots` says why a table and not advisory locks),
reached through the :class:`Leases` protocol so that this module, below
the store, needs none of it.

How slots move:

* a request that finds none of this controller's slots free claims one
  more, or as many as this controller's requests wait for (one store
  transaction, ``SKIP LOCKED``: a burst is not served one claim at a
  time); none free anywhere, the
  controller is written as waiting for the service, and the request waits
  ``poll`` seconds and asks again (or is woken by a slot given back here);
* a keeper thread, every ``tick``, reads who holds and who waits (one read,
  while it holds slots), gives back what is beyond its fair share, and
  every ``linger`` seconds the slots this controller did not use since
  (a slot held idle is one another controller may wait for: held slots
  used to be trimmed only at each renewal, and four controllers together
  drained a storm at 2.4x one while the cap never bound);
* fair share: while another controller waits for a service, this one uses
  at most ``ceil(cap / contenders)`` of its slots (holders and waiters
  counted), claims no more, and gives back the rest as soon as their
  requests are answered; nobody waits, it may use up to the whole cap.
  Its share it keeps while it uses it: a slot given back and claimed again
  at once costs two store transactions, which on a loaded store is longer
  than the requests it serves; A busy controller then
  cannot keep a waiting one out by reusing its slots locally;
* the keeper extends every held lease each third of ``lease``;
* a slot whose renewal failed (the store unreachable, or the lease lost to
  another controller after it expired) is usable only until its lease, as
  measured here from *before* the claim or renewal was sent, minus a
  margin: a controller cut off from the store stops taking those slots
  before anyone else can take them over;
* a controller that dies frees its slots when their lease expires; one
  that stops cleanly (:meth:`SharedSlots.stop`) releases them at once.

Invariant: a request takes a slot only while ``in use < usable slots``, and
a slot is given back only when ``held - 1 >= in use`` (both under one
lock), so the requests in flight from this controller never outnumber the
cloud-wide slots it holds.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from reaper import log

LOG = log.get(__name__)

#: Of a lease, the part a slot is used for, counted from before the claim or renewal.
USABLE = 0.8


class Leases(Protocol):
    """The store's ``budget_slots`` (:class:`reaper.store.slots.SlotRepository`)."""

    def claim_many(
        self,
        service: str,
        cap: int,
        holder: str,
        count: int,
        *,
        lease: dt.timedelta,
        waiting: dt.timedelta | None = None,
    ) -> list[int]: ...

    def contention(self) -> dict[str, tuple[frozenset[str], frozenset[str]]]: ...

    def renew(
        self, held: Iterable[tuple[str, int]], holder: str, *, lease: dt.timedelta
    ) -> set[tuple[str, int]]: ...

    def release(self, held: Iterable[tuple[str, int]], holder: str) -> None: ...


def fair_shares(
    caps: Mapping[str, int],
    contention: Mapping[str, tuple[frozenset[str], frozenset[str]]],
    holder: str,
) -> dict[str, int]:
    """Per service another controller waits for: ``holder``'s share of its cap.

    The cap divided among every controller that holds or waits for one of
    its slots, ``holder`` included, rounded up (at least one).
    """
    shares: dict[str, int] = {}
    for service, cap in caps.items():
        holders, waiters = contention.get(service, (frozenset(), frozenset()))
        if waiters - {holder}:
            shares[service] = max(1, math.ceil(cap / len(holders | waiters | {holder})))
    return shares


class SharedSlots:
    """This controller's share of the cloud-wide slots, kept leased."""

    def __init__(
        self,
        leases: Leases,
        holder: str,
        *,
        lease: float = 30.0,
        linger: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.holder = holder
        self.lease = lease
        self.linger = linger
        self.monotonic = monotonic
        #: How long a request that found no free slot anywhere waits before asking again.
        self.poll = min(0.2, lease / 20)
        #: How often the keeper gives back idle slots and reads who waits.
        self.tick = min(0.2, lease / 20)
        self._lock = threading.Lock()
        #: service -> the cap claims were made under (for the fair share)
        self._caps: dict[str, int] = {}
        #: service -> the most slots this controller may use while others wait for it
        self._share: dict[str, int] = {}
        #: Set when a slot beyond the fair share can be given back now.
        self._surplus = threading.Event()
        #: service -> slot -> until when (monotonic) it may be used
        self._held: dict[str, dict[int, float]] = collections.defaultdict(dict)
        self._in_use: collections.Counter[str] = collections.Counter()
        self._busiest: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the budget asks --------------------------------------------------------

    def take(self, service: str, now: float) -> bool:
        """Use one of the held slots of ``service`` for a request, if one is free.

        While others wait for ``service``, no more than the fair share are used.
        """
        with self._lock:
            usable = sum(1 for until in self._held[service].values() if until > now)
            usable = min(usable, self._share.get(service, usable))
            if self._in_use[service] >= usable:
                return False
            self._in_use[service] += 1
            self._busiest[service] = max(self._busiest[service], self._in_use[service])
            return True

    def give(self, service: str) -> None:
        """A request that took a slot is answered."""
        with self._lock:
            self._in_use[service] -= 1
            share = self._share.get(service)
            if share is not None and len(self._held[service]) > max(self._in_use[service], share):
                self._surplus.set()

    def grow(self, service: str, cap: int, want: int = 1) -> bool:
        """Claim up to ``want`` more slots (one transaction), none beyond the fair share; any?"""
        with self._lock:
            self._caps[service] = cap
            share = self._share.get(service)
            if share is not None:
                want = min(want, share - len(self._held[service]))
        if want < 1:
            return False
        started = self.monotonic()
        slots = self.leases.claim_many(
            service,
            cap,
            self.holder,
            want,
            lease=dt.timedelta(seconds=self.lease),
            waiting=dt.timedelta(seconds=max(1.0, 5 * self.poll)),
        )
        with self._lock:
            for slot in slots:
                self._held[service][slot] = started + self.lease * USABLE
        return bool(slots)

    def held(self) -> dict[str, int]:
        """Slots usable now, per service (those whose lease may have run out not counted)."""
        now = self.monotonic()
        with self._lock:
            counts = {s: sum(u > now for u in slots.values()) for s, slots in self._held.items()}
        return {s: n for s, n in counts.items() if n}

    def shares(self) -> dict[str, int]:
        """The services others wait for, and the most slots of each this controller uses."""
        with self._lock:
            return dict(self._share)

    # -- keeping them -----------------------------------------------------------------

    def watch(self) -> None:
        """Read who holds and who waits; set the fair share of each service others wait for."""
        with self._lock:
            if not any(self._held.values()):
                self._share.clear()
                return
            caps = dict(self._caps)
        shares = fair_shares(caps, self.leases.contention(), self.holder)
        with self._lock:
            before, self._share = self._share, shares
        for service, share in shares.items():
            if before.get(service) != share:
                LOG.debug("others wait for request slots: fair share", service=service, share=share)

    def trim(self, *, idle: bool) -> None:
        """Give back slots beyond the fair share, and with ``idle`` those unused since last time.

        ``idle`` is asked every ``linger`` seconds: a slot none of this
        controller's requests needed during that time goes back to the store.
        """
        surplus: list[tuple[str, int]] = []
        with self._lock:
            self._surplus.clear()
            for service, slots in self._held.items():
                keep = len(slots)
                if idle:
                    keep = max(self._in_use[service], self._busiest[service])
                    self._busiest[service] = self._in_use[service]
                share = self._share.get(service)
                if share is not None:
                    keep = min(keep, max(self._in_use[service], share))
                for slot in sorted(slots, reverse=True)[: max(0, len(slots) - keep)]:
                    del slots[slot]
                    surplus.append((service, slot))
        if surplus:
            _quietly(self.leases.release, surplus, self.holder)

    def renew_once(self) -> None:
        """Give back what was not needed since last time; extend the leases of the rest."""
        self.trim(idle=True)
        with self._lock:
            pairs = [(s, n) for s, slots in self._held.items() for n in slots]
        if not pairs:
            return
        started = self.monotonic()
        try:
            kept = self.leases.renew(pairs, self.holder, lease=dt.timedelta(seconds=self.lease))
        except Exception as exc:  # usable until their lease runs out here, then not
            LOG.warning("could not renew cloud-wide request slots", error=str(exc))
            return
        with self._lock:
            for service, slot in pairs:
                slots = self._held[service]
                if slot not in slots:
                    continue
                if (service, slot) in kept:
                    slots[slot] = started + self.lease * USABLE
                else:
                    LOG.warning("cloud-wide request slot lost", service=service, slot=slot)
                    del slots[slot]

    def start(self) -> SharedSlots:
        """Keep the slots (trim, watch, renew) in a daemon thread, until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="reaper-budget-slots", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing and give every slot back."""
        self._stop.set()
        self._surplus.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            pairs = [(s, n) for s, slots in self._held.items() for n in slots]
            self._held.clear()
        if pairs:
            _quietly(self.leases.release, pairs, self.holder)

    def _run(self) -> None:
        renewed = trimmed = self.monotonic()
        while not self._stop.is_set():
            self._surplus.wait(self.tick)
            if self._stop.is_set():
                return
            now = self.monotonic()
            try:
                if now - renewed >= self.lease / 3:
                    renewed = trimmed = now
                    self.renew_once()
                else:
                    idle = now - trimmed >= self.linger
                    if idle:
                        trimmed = now
                    self.trim(idle=idle)
                self.watch()
            except Exception as exc:  # never let the keeper die
                LOG.warning("cloud-wide slot keeping failed", error=str(exc))


def _quietly(call: Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except Exception as exc:  # the lease expires on its own
        LOG.warning("could not give cloud-wide request slots back", error=str(exc))
