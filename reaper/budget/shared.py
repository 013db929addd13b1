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
  more (one store transaction, ``SKIP LOCKED``); none free anywhere, it
  waits ``poll`` seconds and asks again (or is woken by a slot given back
  here);
* a renewer thread extends every held lease each third of ``lease``; slots
  held beyond the most this controller used at once since the previous
  renewal are given back, so an idle controller frees its share within a
  third of the lease;
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
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from reaper import log

LOG = log.get(__name__)

#: Of a lease, the part a slot is used for, counted from before the claim or renewal.
USABLE = 0.8


class Leases(Protocol):
    """The store's ``budget_slots`` (:class:`reaper.store.slots.SlotRepository`)."""

    def claim(self, service: str, cap: int, holder: str, *, lease: dt.timedelta) -> int | None: ...

    def renew(
        self, held: Iterable[tuple[str, int]], holder: str, *, lease: dt.timedelta
    ) -> set[tuple[str, int]]: ...

    def release(self, held: Iterable[tuple[str, int]], holder: str) -> None: ...


class SharedSlots:
    """This controller's share of the cloud-wide slots, kept leased."""

    def __init__(
        self,
        leases: Leases,
        holder: str,
        *,
        lease: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.holder = holder
        self.lease = lease
        self.monotonic = monotonic
        #: How long a request that found no free slot anywhere waits before asking again.
        self.poll = min(0.5, lease / 20)
        self._lock = threading.Lock()
        #: service -> slot -> until when (monotonic) it may be used
        self._held: dict[str, dict[int, float]] = collections.defaultdict(dict)
        self._in_use: collections.Counter[str] = collections.Counter()
        self._busiest: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the budget asks --------------------------------------------------------

    def take(self, service: str, now: float) -> bool:
        """Use one of the held slots of ``service`` for a request, if one is free."""
        with self._lock:
            usable = sum(1 for until in self._held[service].values() if until > now)
            if self._in_use[service] >= usable:
                return False
            self._in_use[service] += 1
            self._busiest[service] = max(self._busiest[service], self._in_use[service])
            return True

    def give(self, service: str) -> None:
        """A request that took a slot is answered."""
        with self._lock:
            self._in_use[service] -= 1

    def grow(self, service: str, cap: int) -> bool:
        """Claim one more slot of ``service`` from the store (I/O); whether one was free."""
        started = self.monotonic()
        slot = self.leases.claim(service, cap, self.holder, lease=dt.timedelta(seconds=self.lease))
        if slot is None:
            return False
        with self._lock:
            self._held[service][slot] = started + self.lease * USABLE
        return True

    def held(self) -> dict[str, int]:
        """Slots usable now, per service (those whose lease may have run out not counted)."""
        now = self.monotonic()
        with self._lock:
            counts = {
                s: sum(1 for u in slots.values() if u > now) for s, slots in self._held.items()
            }
        return {s: n for s, n in counts.items() if n}

    # -- keeping them -----------------------------------------------------------------

    def renew_once(self) -> None:
        """Give back what was not needed since last time; extend the leases of the rest."""
        surplus: list[tuple[str, int]] = []
        with self._lock:
            for service, slots in self._held.items():
                keep = max(self._in_use[service], self._busiest[service])
                for slot in sorted(slots, reverse=True)[: max(0, len(slots) - keep)]:
                    del slots[slot]
                    surplus.append((service, slot))
                self._busiest[service] = self._in_use[service]
            pairs = [(s, n) for s, slots in self._held.items() for n in slots]
        if surplus:
            self._quietly(self.leases.release, surplus, self.holder)
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
        """Renew every third of the lease in a daemon thread, until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="reaper-budget-slots", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing and give every slot back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            pairs = [(s, n) for s, slots in self._held.items() for n in slots]
            self._held.clear()
        if pairs:
            self._quietly(self.leases.release, pairs, self.holder)

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.renew_once()
            except Exception as exc:  # never let the renewer die
                LOG.warning("cloud-wide slot renewal failed", error=str(exc))

    @staticmethod
    def _quietly(call: Callable[..., object], *args: object) -> None:
        try:
            call(*args)
        except Exception as exc:  # the lease expires on its own
            LOG.warning("could not give cloud-wide request slots back", error=str(exc))
