"""The sweep's lease: one controller sweeps at a time, and knows while it does.

The lock is a leased row of ``budget_slots`` (service ``reaper.sweep``, one
slot; :mod:`reaper.store.slots`), held by this process's renewals. It used
to be a session lock (PostgreSQL's advisory lock, MySQL's ``GET_LOCK``),
which belongs to one database session: behind a transaction pooler
(pgbouncer in transaction mode) every statement may land on another backend,
so the lock was taken on one, found missing on the next (the sweep stopped
at once) and left held on the first for as long as the pooler kept it open
(no controller swept again); a failover or a DBA ending the session freed it
behind the holder's back. A row with a holder and an expiry survives any
pooler and any connection: it is taken with ``FOR UPDATE SKIP LOCKED`` and a
fenced update, and every renewal is fenced by the holder, so a renewal of a
lease someone else took over after it ran out changes nothing and says so.

A keep-alive thread renews the lease every ``keepalive`` seconds (far below
``lease``), and :meth:`SweepLock.ensure`, called by the sweep before each
thing it writes, renews it at once and raises :class:`LockLost` unless the
database says the lease is still this process's. A renewal that fails for
any reason (the row was taken over, the database cannot be reached) marks
the lock lost, logged once, for good: the sweep stops and writes nothing
more, and another controller may take the lease once it has run out.

Invariant: while :meth:`SweepLock.ensure` returns, the database says this
process holds the lease until at least ``lease`` seconds from now (clocks
are the controllers' own, as for every lease reaper keeps: they must agree
to well within it). SQLite has one controller: its lock is always held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator

from reaper import log
from reaper.store import Store
from reaper.store.slots import SlotRepository

LOG = log.get(__name__)
LOCK_NAME = "reaper.sweep"
#: Seconds between two renewals of a held lease.
KEEPALIVE = 10.0
#: Seconds a lease lasts unrenewed: a controller that dies frees the sweep after this.
LEASE = 60.0


class LockLost(RuntimeError):
    """This controller no longer holds the sweep lock: its sweep must stop."""


def _holder() -> str:
    """Who holds the lease, as an operator reading ``budget_slots`` wants to see it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SweepLock:
    """The sweep lease as taken (true) or refused (false); renewed while held."""

    def __init__(
        self,
        slots: SlotRepository | None,
        *,
        held: bool,
        holder: str | None = None,
        keepalive: float = KEEPALIVE,
        lease: float = LEASE,
        name: str = LOCK_NAME,
    ) -> None:
        self.held = held
        #: Who holds the lease in ``budget_slots`` (None on SQLite or if refused).
        self.holder = holder
        #: Set once the lock is found lost; never cleared.
        self.lost = threading.Event()
        self._slots = slots
        self._name = name
        self._keepalive = keepalive
        self._lease = dt.timedelta(seconds=lease)
        self._use = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return self.held

    def start(self) -> None:
        if self.held and self._slots is not None:
            self._thread = threading.Thread(
                target=self._keep, name="reaper-sweep-lock", daemon=True
            )
            self._thread.start()

    def ensure(self) -> None:
        """Return only if the database says this process still holds the lease now."""
        if not self.held:
            raise LockLost(f"{self._name}: this controller does not hold the sweep lock")
        if self._slots is not None and not self.lost.is_set():
            self._renew()
        if self.lost.is_set():
            raise LockLost(
                f"{self._name}: the sweep lock was lost (its lease was not renewed in time "
                "or was taken over)"
            )

    def _keep(self) -> None:
        while not self._done.wait(self._keepalive) and not self.lost.is_set():
            self._renew()

    def _renew(self) -> None:
        assert self._slots is not None and self.holder is not None
        error: str | None = None
        with self._use:
            try:
                mine = bool(self._slots.renew([(self._name, 0)], self.holder, lease=self._lease))
            except Exception as exc:  # the database cannot say: fail closed
                mine, error = False, str(exc).strip().splitlines()[0]
        if not mine and not self.lost.is_set():
            self.lost.set()
            LOG.error(
                "sweep lock lost: this controller's sweep stops",
                lock=self._name,
                holder=self.holder,
                error=error or "the lease is no longer this controller's",
            )

    def release(self) -> None:
        """Stop the renewals; give the lease back if it is still this process's."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if not self.held or self._slots is None or self.holder is None:
            return
        try:
            self._slots.release([(self._name, 0)], self.holder)  # fenced: only if still ours
        except Exception as exc:  # it runs out on its own
            LOG.warning("sweep lock could not be given back", lock=self._name, error=str(exc))


@contextlib.contextmanager
def exclusive(
    store: Store,
    name: str = LOCK_NAME,
    *,
    keepalive: float = KEEPALIVE,
    lease: float = LEASE,
) -> Iterator[SweepLock]:
    """The sweep lock, true if this process may sweep now (see the module docstring)."""
    if store.db.dialect == "sqlite":
        yield SweepLock(None, held=True, name=name)
        return
    slots = SlotRepository(store.db)
    holder = _holder()
    got = slots.claim(name, 1, holder, lease=dt.timedelta(seconds=lease)) is not None
    lock = SweepLock(
        slots,
        held=got,
        holder=holder if got else None,
        keepalive=keepalive,
        lease=lease,
        name=name,
    )
    lock.start()
    try:
        yield lock
    finally:
        lock.release()
