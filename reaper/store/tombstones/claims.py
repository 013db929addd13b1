"""Who works on a tombstone: claims and leases.

Controllers claim a due tombstone with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite has a single writer anyway), stamp a lease
(``claimed_by``/``claimed_at``) and commit at once: no transaction stays
open while the work runs, and a crashed controller's lease simply expires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from reaper.model import Tombstone, TombstoneState, utcnow
from reaper.store.database import Database
from reaper.store.errors import NotFound, StateConflict
from reaper.store.tombstones.rows import T, load

#: States a worker may pick up when due; HELD waits for an operator, final states never.
#: VERIFIED is never entered any more, but a row left in it by an older reaper is
#: still picked up (and worked on as if just received).
CLAIMABLE: frozenset[TombstoneState] = frozenset(
    {
        TombstoneState.RECEIVED,
        TombstoneState.VERIFIED,
        TombstoneState.PLANNED,
        TombstoneState.EXECUTING,
        TombstoneState.PARTIAL,
        TombstoneState.DEFERRED,
    }
)

DEFAULT_LEASE = dt.timedelta(minutes=15)


def _free(now: dt.datetime, lease: dt.timedelta) -> Any:
    return or_(T.c.claimed_by.is_(None), T.c.claimed_at <= now - lease)


class TombstoneClaims:
    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_next(
        self,
        owner: str,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
        states: Collection[TombstoneState] = CLAIMABLE,
        now: dt.datetime | None = None,
    ) -> Tombstone | None:
        """Lease the oldest due tombstone nobody holds, counting an attempt.

        Due means ``next_attempt_at`` is unset or past. Leases older than
        ``lease`` are treated as abandoned (their controller died). Several
        controllers calling this at once on PostgreSQL each get a different
        tombstone, without waiting for each other (``SKIP LOCKED``).
        """
        now = now or utcnow()
        due = and_(
            T.c.state.in_([s.value for s in states]),
            or_(T.c.next_attempt_at.is_(None), T.c.next_attempt_at <= now),
            _free(now, lease),
        )
        pick = (
            select(T.c.id)
            .where(due)
            .order_by(func.coalesce(T.c.next_attempt_at, T.c.created_at), T.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._db.write("claim a tombstone") as conn:
            tid = conn.execute(pick).scalar()
            if tid is None:
                return None
            conn.execute(
                update(T)
                .where(T.c.id == tid)
                .values(
                    claimed_by=owner,
                    claimed_at=now,
                    attempts=T.c.attempts + 1,
                    updated_at=now,
                )
            )
            return load(conn, T.c.id == tid)

    def claim(
        self,
        tombstone_id: str,
        owner: str,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
        now: dt.datetime | None = None,
    ) -> Tombstone:
        """Lease one tombstone (an operator's ``apply``); renews one's own lease."""
        now = now or utcnow()
        with self._db.write("claim a tombstone") as conn:
            result = conn.execute(
                update(T)
                .where(
                    and_(
                        T.c.id == tombstone_id,
                        or_(_free(now, lease), T.c.claimed_by == owner),
                    )
                )
                .values(claimed_by=owner, claimed_at=now, updated_at=now)
            )
            current = load(conn, T.c.id == tombstone_id)
            if current is None:
                raise NotFound(f"no tombstone {tombstone_id}")
            if result.rowcount != 1:
                raise StateConflict(
                    f"tombstone {tombstone_id} is claimed by {current.claimed_by} "
                    f"since {current.claimed_at}"
                )
        return current

    def release(self, tombstone_id: str, owner: str) -> Tombstone:
        """Give a lease up (a no-op, not an error, when ``owner`` no longer holds it)."""
        with self._db.write("release a tombstone") as conn:
            conn.execute(
                update(T)
                .where(and_(T.c.id == tombstone_id, T.c.claimed_by == owner))
                .values(claimed_by=None, claimed_at=None)
            )
            current = load(conn, T.c.id == tombstone_id)
        if current is None:
            raise NotFound(f"no tombstone {tombstone_id}")
        return current

    def held_by(self, owner: str) -> list[str]:
        """Ids of tombstones whose lease ``owner`` holds (a restarted controller's own)."""
        with self._db.read("list leased tombstones") as conn:
            return [r.id for r in conn.execute(select(T.c.id).where(T.c.claimed_by == owner))]
