"""Who works on a tombstone: claims, leases and their fencing token.

Controllers claim a due tombstone with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite has a single writer anyway), stamp a lease
(``claimed_by``/``claimed_at``) and commit at once: no transaction stays
open while the work runs, and a crashed controller's lease simply expires.

Every claim that takes a lease from nobody (or from an expired holder)
counts an attempt, and that count is the claim's fencing token
(:class:`Claim`): a holder renews its lease (:meth:`TombstoneClaims.renew`,
the worker's heartbeat) and moves the tombstone only while owner *and*
token still match, so a worker whose lease expired and was taken over can
neither renew it nor change the tombstone's state again, even if it comes
back with the same owner string.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update

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


@dataclasses.dataclass(frozen=True)
class Claim:
    """Who holds a tombstone's lease, and the token that fences their writes."""

    tombstone_id: str
    owner: str
    #: The tombstone's attempt count when claimed: a later claim has a larger one.
    token: int

    @classmethod
    def of(cls, tombstone: Tombstone) -> Claim:
        if tombstone.claimed_by is None:
            raise ValueError(f"tombstone {tombstone.id} is not claimed")
        return cls(tombstone.id, tombstone.claimed_by, tombstone.attempts)

    def holds(self) -> Any:
        """The SQL condition: the row is still leased under this claim."""
        return and_(
            T.c.id == self.tombstone_id,
            T.c.claimed_by == self.owner,
            T.c.attempts == self.token,
        )


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
        """Lease one tombstone (an operator's ``apply``); renews one's own lease.

        Taking a lease from nobody counts an attempt (a new fencing token);
        renewing one's own keeps the token.
        """
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
                .values(
                    claimed_by=owner,
                    claimed_at=now,
                    updated_at=now,
                    attempts=case((T.c.claimed_by == owner, T.c.attempts), else_=T.c.attempts + 1),
                )
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

    def renew(self, claim: Claim, *, now: dt.datetime | None = None) -> bool:
        """Extend ``claim``'s lease from ``now``; False if it is no longer held (fenced).

        Extending an expired lease nobody else took is allowed: the holder
        was slow, not replaced. Once another claim took it, the token differs.
        """
        now = now or utcnow()
        with self._db.write("renew a tombstone's lease") as conn:
            result = conn.execute(update(T).where(claim.holds()).values(claimed_at=now))
        return result.rowcount == 1

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
        """Ids of tombstones whose lease ``owner`` holds."""
        with self._db.read("list leased tombstones") as conn:
            return [r.id for r in conn.execute(select(T.c.id).where(T.c.claimed_by == owner))]

    def leases(self) -> list[tuple[str, str]]:
        """(tombstone id, owner) of every lease held (a restarted controller finds its own)."""
        query = select(T.c.id, T.c.claimed_by).where(T.c.claimed_by.is_not(None))
        with self._db.read("list leased tombstones") as conn:
            return [(r.id, r.claimed_by) for r in conn.execute(query)]
