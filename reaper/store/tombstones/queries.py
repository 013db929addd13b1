"""Reading tombstones: by id, identity or message, lists, and counts for metrics.

Read-only, each call its own short read transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import and_, func, or_, select

from reaper.model import IdentityRef, Tombstone, TombstoneState, Trigger, utcnow
from reaper.store.database import Database
from reaper.store.errors import NotFound
from reaper.store.tombstones.claims import CLAIMABLE
from reaper.store.tombstones.rows import TR, T, load, tombstone_of, trigger_of


class TombstoneQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, tombstone_id: str) -> Tombstone:
        with self._db.read("load a tombstone") as conn:
            found = load(conn, T.c.id == tombstone_id)
        if found is None:
            raise NotFound(f"no tombstone {tombstone_id}")
        return found

    def find(self, identity: IdentityRef) -> Tombstone | None:
        with self._db.read("find a tombstone") as conn:
            return load(conn, and_(T.c.kind == identity.kind.value, T.c.identity_id == identity.id))

    def by_message_id(self, message_id: str) -> Tombstone | None:
        """The tombstone a notification was recorded against, if it was."""
        with self._db.read("find a tombstone by message id") as conn:
            tid = conn.execute(
                select(TR.c.tombstone_id).where(TR.c.message_id == message_id)
            ).scalar()
            return None if tid is None else load(conn, T.c.id == tid)

    def list(
        self, *, states: Collection[TombstoneState] | None = None, limit: int = 100
    ) -> list[Tombstone]:
        """Most recently updated first."""
        query = select(T).order_by(T.c.updated_at.desc(), T.c.id).limit(limit)
        if states:
            query = query.where(T.c.state.in_([s.value for s in states]))
        with self._db.read("list tombstones") as conn:
            rows = conn.execute(query).all()
            by_id: dict[str, list[Trigger]] = {r.id: [] for r in rows}
            if by_id:
                for t in conn.execute(
                    select(TR).where(TR.c.tombstone_id.in_(list(by_id))).order_by(TR.c.id)
                ):
                    by_id[t.tombstone_id].append(trigger_of(t))
        return [tombstone_of(r, by_id[r.id]) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many tombstones are in each state (for metrics)."""
        with self._db.read("count tombstones") as conn:
            rows = conn.execute(select(T.c.state, func.count()).group_by(T.c.state)).all()
        return {state: int(n) for state, n in rows}

    def oldest_due(self, *, now: dt.datetime | None = None) -> dt.datetime | None:
        """Since when the oldest claimable, due and unclaimed tombstone has been waiting."""
        now = now or utcnow()
        waiting_since = func.coalesce(T.c.next_attempt_at, T.c.created_at)
        query = select(func.min(waiting_since)).where(
            and_(
                T.c.state.in_([s.value for s in CLAIMABLE]),
                or_(T.c.next_attempt_at.is_(None), T.c.next_attempt_at <= now),
                T.c.claimed_by.is_(None),
            )
        )
        with self._db.read("find the oldest due tombstone") as conn:
            return conn.execute(query).scalar()
