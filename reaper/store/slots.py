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

Times are the controllers' own UTC clocks (as the tombstone leases are):
they must agree to well within the lease.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, or_, select, update

from reaper.budget import BudgetSettings, SharedSlots
from reaper.model import utcnow
from reaper.store.database import Database
from reaper.store.schema import budget_slots as S


class SlotRepository:
    """Claim, renew and release leased slots of ``budget_slots``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(
        self,
        service: str,
        cap: int,
        holder: str,
        *,
        lease: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> int | None:
        """A free slot of ``service`` below ``cap``, now ``holder``'s until ``now + lease``."""
        now = now or utcnow()
        with self._db.write("claim a request slot") as conn:
            self._db.insert_ignore(
                conn,
                S,
                [{"service": service, "slot": n} for n in range(cap)],
                ["service", "slot"],
            )
        free = and_(
            S.c.service == service,
            S.c.slot < cap,
            or_(S.c.holder.is_(None), S.c.expires_at <= now),
        )
        pick = select(S.c.slot).where(free).order_by(S.c.slot).with_for_update(skip_locked=True)
        with self._db.write("claim a request slot") as conn:
            for slot in conn.execute(pick.limit(cap)).scalars().all():
                # Fenced: MariaDB's SKIP LOCKED has been seen to hand out a row another
                # transaction had just taken; the UPDATE takes it only if still free.
                taken = conn.execute(
                    update(S)
                    .where(free, S.c.slot == slot)
                    .values(holder=holder, expires_at=now + lease)
                )
                if taken.rowcount == 1:
                    return int(slot)
            return None

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
                per = found.setdefault(service, {})
                per[holder] = per.get(holder, 0) + 1
        return found


def _mine(service: str, slot: int, holder: str):  # type: ignore[no-untyped-def]
    return and_(S.c.service == service, S.c.slot == slot, S.c.holder == holder)


def share(db: Database, settings: BudgetSettings, holder: str) -> SharedSlots | None:
    """Cloud-wide slots for ``holder`` on this store, or ``None``: SQLite, or not wanted.

    SQLite serves one controller: its caps are the process's already.
    """
    if not settings.shared or db.dialect == "sqlite":
        return None
    return SharedSlots(SlotRepository(db), holder, lease=settings.lease)
