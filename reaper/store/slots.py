"""``budget_slots``: the cloud-wide request slots controllers lease from the store.

Why a token table, not advisory locks: a session-level advisory lock
(``pg_try_advisory_lock``, MySQL's ``GET_LOCK``) lives on one connection,
which must then stay open and never be handed back to the pool for as long
as the slot is used; a transaction pooler (pgbouncer), an
``idle_in_transaction_session_timeout`` or a dropped connection frees it
silently while the controller goes on sending requests, and nothing tells
it. A row with a holder and an expiry is held by the holder's renewals,
which either succeed (and say so) or fail (and the holder stops using the
slot when its lease runs out), survives any pooler, works the same on
PostgreSQL and MariaDB, and can be read by an operator
(``SELECT * FROM budget_slots``). A controller that dies frees its slots
when their lease expires; one that stops cleanly releases them at once.

One row per (service, slot number), created on first use for every number
below the caller's cap. A slot is free when it has no holder or its lease
has expired; claims take a free one with ``FOR UPDATE SKIP LOCKED``
(PostgreSQL, MySQL 8, MariaDB 10.6+), so controllers claiming at once get
different slots without waiting for each other. Every write is fenced by
the holder: a renewal of a slot someone else took over after its lease
expired changes nothing and reports it lost.

A controller that found no slot free says so in the same table: a row of
the service ``<service>/waiting`` (:data:`WAITING`), numbered after its
name, held by it until a short expiry, renewed by each claim that fails
again and cleared by the one that succeeds. The holders read who waits
(:meth:`SlotRepository.contention`) and keep no more than their fair share
while anyone does (:mod:`reaper.budget.shared`). Those rows are never slots:
every claim names its service exactly, so a controller of an older version
never takes one.

Times are the controllers' own UTC clocks (as the tombstone leases are):
they must agree to well within the lease.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable

from sqlalchemy import and_, or_, select, update

from reaper.budget import BudgetSettings, SharedSlots
from reaper.model import utcnow
from reaper.store.database import Database
from reaper.store.schema import budget_slots as S

#: The suffix of the service under which controllers that wait for a slot are written.
WAITING = "/waiting"


class SlotRepository:
    """Claim, renew and release leased slots of ``budget_slots``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        #: (service, cap) whose rows exist: made once per process, not before each claim.
        self._made: set[tuple[str, int]] = set()
        #: (service, holder) written as waiting by this process (cleared by a claim).
        self._waiting: set[tuple[str, str]] = set()

    def claim(
        self,
        service: str,
        cap: int,
        holder: str,
        *,
        lease: dt.timedelta,
        now: dt.datetime | None = None,
        waiting: dt.timedelta | None = None,
    ) -> int | None:
        """A free slot of ``service`` below ``cap``, now ``holder``'s until ``now + lease``.

        With ``waiting``: none free, ``holder`` is written as waiting for
        ``service`` until ``now + waiting``; one free, it no longer is.
        """
        taken = self.claim_many(service, cap, holder, 1, lease=lease, now=now, waiting=waiting)
        return taken[0] if taken else None

    def claim_many(
        self,
        service: str,
        cap: int,
        holder: str,
        count: int,
        *,
        lease: dt.timedelta,
        now: dt.datetime | None = None,
        waiting: dt.timedelta | None = None,
    ) -> list[int]:
        """Up to ``count`` free slots, in one transaction (see :meth:`claim`)."""
        now = now or utcnow()
        if (service, cap) not in self._made:
            with self._db.write("claim a request slot") as conn:
                self._db.insert_ignore(
                    conn,
                    S,
                    [{"service": service, "slot": n} for n in range(cap)],
                    ["service", "slot"],
                )
            self._made.add((service, cap))
        free = and_(
            S.c.service == service,
            S.c.slot < cap,
            or_(S.c.holder.is_(None), S.c.expires_at <= now),
        )
        pick = select(S.c.slot).where(free).order_by(S.c.slot).with_for_update(skip_locked=True)
        taken: list[int] = []
        with self._db.write("claim a request slot") as conn:
            for slot in conn.execute(pick.limit(cap)).scalars().all():
                # Fenced: MariaDB's SKIP LOCKED has been seen to hand out a row another
                # transaction had just taken; the UPDATE takes it only if still free.
                done = conn.execute(
                    update(S)
                    .where(free, S.c.slot == slot)
                    .values(holder=holder, expires_at=now + lease)
                )
                if done.rowcount == 1:
                    taken.append(int(slot))
                    if len(taken) >= count:
                        break
            if waiting is not None and not taken:
                self._wait(conn, service, holder, now + waiting)
                self._waiting.add((service, holder))
            elif taken and (service, holder) in self._waiting:
                conn.execute(
                    update(S)
                    .where(_waiter(service, holder), S.c.holder == holder)
                    .values(holder=None, expires_at=None)
                )
                self._waiting.discard((service, holder))
        return taken

    def _wait(self, conn, service: str, holder: str, until: dt.datetime) -> None:  # type: ignore[no-untyped-def]
        """``holder`` waits for a slot of ``service`` until ``until``."""
        row = {"service": service + WAITING, "slot": _number(holder)}
        self._db.insert_ignore(conn, S, [row], ["service", "slot"])
        conn.execute(
            update(S).where(_waiter(service, holder)).values(holder=holder, expires_at=until)
        )

    def contention(
        self, now: dt.datetime | None = None
    ) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        """Service -> (who holds live slots of it, who waits for one): one read."""
        now = now or utcnow()
        holders: dict[str, set[str]] = {}
        waiters: dict[str, set[str]] = {}
        with self._db.read("read request slots") as conn:
            rows = conn.execute(
                select(S.c.service, S.c.holder).where(S.c.holder.is_not(None), S.c.expires_at > now)
            )
            for service, holder in rows:
                if service.endswith(WAITING):
                    waiters.setdefault(service[: -len(WAITING)], set()).add(holder)
                else:
                    holders.setdefault(service, set()).add(holder)
        return {
            s: (frozenset(holders.get(s, ())), frozenset(waiters.get(s, ())))
            for s in holders.keys() | waiters.keys()
        }

    def renew(
        self,
        held: Iterable[tuple[str, int]],
        holder: str,
        *,
        lease: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> set[tuple[str, int]]:
        """Extend ``holder``'s leases; the slots still its own (the others were lost)."""
        now = now or utcnow()
        kept: set[tuple[str, int]] = set()
        with self._db.write("renew request slots") as conn:
            for service, slot in sorted(held):
                result = conn.execute(
                    update(S).where(_mine(service, slot, holder)).values(expires_at=now + lease)
                )
                if result.rowcount:
                    kept.add((service, slot))
        return kept

    def release(self, held: Iterable[tuple[str, int]], holder: str) -> None:
        """Give slots back at once (a clean stop, or a slot unused for a while)."""
        slots = sorted(held)
        if not slots:
            return
        with self._db.write("release request slots") as conn:
            for service, slot in slots:
                conn.execute(
                    update(S)
                    .where(_mine(service, slot, holder))
                    .values(holder=None, expires_at=None)
                )

    def holders(self, now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
        """Service -> holder -> live slots: who holds what now (for operators and tests)."""
        now = now or utcnow()
        found: dict[str, dict[str, int]] = {}
        with self._db.read("read request slots") as conn:
            rows = conn.execute(
                select(S.c.service, S.c.holder).where(S.c.holder.is_not(None), S.c.expires_at > now)
            )
            for service, holder in rows:
                if service.endswith(WAITING):
                    continue
                per = found.setdefault(service, {})
                per[holder] = per.get(holder, 0) + 1
        return found


def _mine(service: str, slot: int, holder: str):  # type: ignore[no-untyped-def]
    return and_(S.c.service == service, S.c.slot == slot, S.c.holder == holder)


def _waiter(service: str, holder: str):  # type: ignore[no-untyped-def]
    """The row that says ``holder`` waits for ``service`` (whoever it says holds it)."""
    return and_(S.c.service == service + WAITING, S.c.slot == _number(holder))


def _number(holder: str) -> int:
    """A controller's number among the waiting rows of a service (a clash only hides a waiter)."""
    return zlib.crc32(holder.encode()) & 0x7FFFFFFF


def share(db: Database, settings: BudgetSettings, holder: str) -> SharedSlots | None:
    """Cloud-wide slots for ``holder`` on this store, or ``None``: SQLite, or not wanted.

    SQLite serves one controller: its caps are the process's already.
    """
    if not settings.shared or db.dialect == "sqlite":
        return None
    return SharedSlots(SlotRepository(db), holder, lease=settings.lease)
