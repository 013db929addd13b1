"""Tombstones: one persistent row per deleted identity, and who works on it.

Two jobs. Deduplication: oslo.messaging delivers at least once and Keystone
may announce one deletion several times, so a trigger is recorded against
the tombstone of its identity (created on first sight) and a ``message_id``
seen before is recognised as a redelivery. Coordination: controllers claim a
due tombstone with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite
has a single writer anyway), stamp a lease (``claimed_by``/``claimed_at``)
and commit at once: no transaction stays open while the work runs, and a
crashed controller's lease simply expires.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Row

from reaper import canonical
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
    utcnow,
)
from reaper.store import schema
from reaper.store.database import Database
from reaper.store.errors import NotFound, StateConflict

T = schema.tombstones
TR = schema.tombstone_triggers

#: States a worker may pick up when due; HELD waits for an operator, final states never.
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


class _Unset:
    """Marks "leave this column alone", since ``None`` is a value to store."""


UNSET: Any = _Unset()


@dataclass(frozen=True)
class TriggerResult:
    """What recording a trigger did.

    ``created``: the tombstone is new. ``duplicate``: this ``message_id`` had
    been recorded before (a redelivery), so nothing was added.
    """

    tombstone: Tombstone
    created: bool
    duplicate: bool


def _new_row(tombstone_id: str, kind: str, identity_id: str, now: dt.datetime) -> dict[str, Any]:
    """A tombstone row as first recorded: received, unclaimed, no plan yet."""
    return {
        "id": tombstone_id,
        "kind": kind,
        "identity_id": identity_id,
        "state": TombstoneState.RECEIVED.value,
        "reason": "",
        "plan_hash": None,
        "attempts": 0,
        "next_attempt_at": None,
        "claimed_by": None,
        "claimed_at": None,
        "created_at": now,
        "updated_at": now,
    }


def _trigger(row: Row[Any]) -> Trigger:
    return Trigger(
        source=TriggerSource(row.source),
        event_type=row.event_type,
        message_id=row.message_id,
        initiator=json.loads(row.initiator) if row.initiator else None,
        received_at=row.received_at,
    )


def _tombstone(row: Row[Any], triggers: Sequence[Trigger]) -> Tombstone:
    return Tombstone(
        id=row.id,
        identity=IdentityRef(IdentityKind(row.kind), row.identity_id),
        state=TombstoneState(row.state),
        triggers=tuple(triggers),
        created_at=row.created_at,
        updated_at=row.updated_at,
        plan_hash=row.plan_hash,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        reason=row.reason,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
    )


class TombstoneRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reading ---------------------------------------------------------

    def _load(self, conn: Connection, where: Any) -> Tombstone | None:
        row = conn.execute(select(T).where(where)).first()
        if row is None:
            return None
        triggers = conn.execute(select(TR).where(TR.c.tombstone_id == row.id).order_by(TR.c.id))
        return _tombstone(row, [_trigger(t) for t in triggers])

    def get(self, tombstone_id: str) -> Tombstone:
        with self._db.read("load a tombstone") as conn:
            found = self._load(conn, T.c.id == tombstone_id)
        if found is None:
            raise NotFound(f"no tombstone {tombstone_id}")
        return found

    def find(self, identity: IdentityRef) -> Tombstone | None:
        with self._db.read("find a tombstone") as conn:
            return self._load(
                conn, and_(T.c.kind == identity.kind.value, T.c.identity_id == identity.id)
            )

    def by_message_id(self, message_id: str) -> Tombstone | None:
        """The tombstone a notification was recorded against, if it was."""
        with self._db.read("find a tombstone by message id") as conn:
            tid = conn.execute(
                select(TR.c.tombstone_id).where(TR.c.message_id == message_id)
            ).scalar()
            return None if tid is None else self._load(conn, T.c.id == tid)

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
                    by_id[t.tombstone_id].append(_trigger(t))
        return [_tombstone(r, by_id[r.id]) for r in rows]

    # -- creating --------------------------------------------------------

    def record_trigger(
        self, identity: IdentityRef, trigger: Trigger, *, now: dt.datetime | None = None
    ) -> TriggerResult:
        """Create-or-get the identity's tombstone and attach ``trigger`` to it.

        Safe under concurrency: two controllers recording the same identity
        (or the same message) at once end up with one tombstone and one
        trigger row. The listener acknowledges the message only after this
        returns, so a crash before it means redelivery, not loss.
        """
        now = now or utcnow()
        with self._db.write("record a trigger") as conn:
            return self._record(conn, identity, trigger, now)

    def record_triggers(
        self,
        items: Sequence[tuple[IdentityRef, Trigger]],
        *,
        now: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> list[TriggerResult]:
        """:meth:`record_trigger` for a batch, in one transaction (the listener's path).

        Set-based: a handful of statements per batch rather than per message,
        because intake must keep up with the bus. The returned tombstones
        carry no triggers (the listener needs only their ids and states).
        With ``conn``, the statements join that write transaction.
        """
        if not items:
            return []
        now = now or utcnow()
        with self._db.write_in(conn, "record triggers") as conn:
            message_ids = [t.message_id for _, t in items if t.message_id is not None]
            seen: dict[str, str] = {}
            if message_ids:
                seen = dict(
                    conn.execute(
                        select(TR.c.message_id, TR.c.tombstone_id).where(
                            TR.c.message_id.in_(message_ids)
                        )
                    ).all()
                )
            keys = sorted({(i.kind.value, i.id) for i, _ in items})
            # Propose an id for every identity; the row whose id is ours was created now.
            proposed = {key: str(uuid.uuid4()) for key in keys}
            fresh = [_new_row(proposed[(kind, ident)], kind, ident, now) for kind, ident in keys]
            inserted = self._db.insert_ignore(conn, T, fresh, ("kind", "identity_id"))
            if inserted == len(keys):
                # Every identity is new (the usual batch): the rows are ours, as inserted,
                # and already locked by the insert; reading them back would cost as much.
                rows_by_key: dict[tuple[str, str], Any] = {
                    (row["kind"], row["identity_id"]): SimpleNamespace(**row) for row in fresh
                }
            else:
                rows_by_key = self._rows_of(conn, keys)
            ids = {key: row.id for key, row in rows_by_key.items()}
            created_keys = {key for key in keys if ids[key] == proposed[key]}
            rows: list[dict[str, Any]] = []
            results: list[tuple[tuple[str, str], bool, bool]] = []
            batch_seen: set[str] = set()
            for identity, trigger in items:
                key = (identity.kind.value, identity.id)
                mid = trigger.message_id
                duplicate = mid is not None and (mid in seen or mid in batch_seen)
                if mid is not None:
                    batch_seen.add(mid)
                created = key in created_keys
                created_keys.discard(key)  # only the first trigger of a new identity creates it
                if not duplicate:
                    rows.append(
                        {
                            "tombstone_id": ids[key],
                            "source": trigger.source.value,
                            "event_type": trigger.event_type,
                            "message_id": mid,
                            "initiator": (
                                canonical.dumps(trigger.initiator).decode("utf-8")
                                if trigger.initiator
                                else None
                            ),
                            "received_at": trigger.received_at or now,
                        }
                    )
                results.append((key, created, duplicate))
            if rows:
                self._db.insert_ignore(conn, TR, rows, ("message_id",))
            touched = sorted({ids[k] for k, created, dup in results if not created and not dup})
            if touched:
                conn.execute(update(T).where(T.c.id.in_(touched)).values(updated_at=now))
            loaded = {row.id: _tombstone(row, []) for row in rows_by_key.values()}
        return [
            TriggerResult(loaded[ids[key]], created=created, duplicate=dup)
            for key, created, dup in results
        ]

    def _rows_of(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        wanted = set(keys)
        kinds = sorted({k for k, _ in keys})
        for ident_chunk in _chunks(sorted({i for _, i in keys}), 500):
            # Locked (PostgreSQL; SQLite writers are serialized anyway) in one order, so a
            # worker's state change and a trigger's arrival are seen one after the other.
            # The kind condition lets the (kind, identity_id) unique index find the rows:
            # on identity_id alone both databases scan the whole table, every batch.
            locked = (
                select(T)
                .where(T.c.kind.in_(kinds), T.c.identity_id.in_(ident_chunk))
                .order_by(T.c.identity_id, T.c.kind)
                .with_for_update()
            )
            for row in conn.execute(locked):
                if (row.kind, row.identity_id) in wanted:
                    found[(row.kind, row.identity_id)] = row
        return found

    def _record(
        self, conn: Connection, identity: IdentityRef, trigger: Trigger, now: dt.datetime
    ) -> TriggerResult:
        if trigger.message_id is not None:
            seen = conn.execute(
                select(TR.c.tombstone_id).where(TR.c.message_id == trigger.message_id)
            ).scalar()
            if seen is not None:
                found = self._load(conn, T.c.id == seen)
                assert found is not None
                return TriggerResult(found, created=False, duplicate=True)
        created = (
            self._db.insert_ignore(
                conn,
                T,
                _new_row(str(uuid.uuid4()), identity.kind.value, identity.id, now),
                ("kind", "identity_id"),
            )
            == 1
        )
        tid = conn.execute(
            select(T.c.id)
            .where(and_(T.c.kind == identity.kind.value, T.c.identity_id == identity.id))
            .with_for_update()  # see _rows_of
        ).scalar_one()
        inserted = self._db.insert_ignore(
            conn,
            TR,
            {
                "tombstone_id": tid,
                "source": trigger.source.value,
                "event_type": trigger.event_type,
                "message_id": trigger.message_id,
                "initiator": (
                    canonical.dumps(trigger.initiator).decode("utf-8")
                    if trigger.initiator
                    else None
                ),
                "received_at": trigger.received_at or now,
            },
            ("message_id",),
        )
        if not created and inserted:
            conn.execute(update(T).where(T.c.id == tid).values(updated_at=now))
        found = self._load(conn, T.c.id == tid)
        assert found is not None
        return TriggerResult(found, created=created, duplicate=not inserted)

    # -- state -----------------------------------------------------------

    def transition(
        self,
        tombstone_id: str,
        to: TombstoneState,
        *,
        expected: Collection[TombstoneState] | None = None,
        owner: str | None = None,
        reason: str | None = None,
        plan_hash: str | None = UNSET,
        next_attempt_at: dt.datetime | None = UNSET,
        release: bool = False,
        now: dt.datetime | None = None,
    ) -> Tombstone:
        """Move to state ``to``, compare-and-set style.

        With ``expected``, the move happens only from one of those states;
        with ``owner``, only while that controller holds the lease. Otherwise
        :class:`StateConflict` says what the row looks like instead, and
        nothing changed. ``release`` gives the lease up in the same write.
        """
        now = now or utcnow()
        values: dict[str, Any] = {"state": to.value, "updated_at": now}
        if reason is not None:
            values["reason"] = reason
        if plan_hash is not UNSET:
            values["plan_hash"] = plan_hash
        if next_attempt_at is not UNSET:
            values["next_attempt_at"] = next_attempt_at
        if release:
            values["claimed_by"] = None
            values["claimed_at"] = None
        conditions = [T.c.id == tombstone_id]
        if expected is not None:
            conditions.append(T.c.state.in_([s.value for s in expected]))
        if owner is not None:
            conditions.append(T.c.claimed_by == owner)
        with self._db.write("change a tombstone's state") as conn:
            result = conn.execute(update(T).where(and_(*conditions)).values(**values))
            current = self._load(conn, T.c.id == tombstone_id)
            if current is None:
                raise NotFound(f"no tombstone {tombstone_id}")
            if result.rowcount != 1:
                raise StateConflict(
                    f"tombstone {tombstone_id} is {current.state.value}"
                    f" (claimed by {current.claimed_by or 'nobody'}); refusing to move it to "
                    f"{to.value}"
                    + (f" from {sorted(s.value for s in expected)}" if expected else "")
                    + (f" as {owner}" if owner else "")
                )
        return current

    # -- claiming --------------------------------------------------------

    def _free(self, now: dt.datetime, lease: dt.timedelta) -> Any:
        return or_(T.c.claimed_by.is_(None), T.c.claimed_at <= now - lease)

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
            self._free(now, lease),
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
            return self._load(conn, T.c.id == tid)

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
                        or_(self._free(now, lease), T.c.claimed_by == owner),
                    )
                )
                .values(claimed_by=owner, claimed_at=now, updated_at=now)
            )
            current = self._load(conn, T.c.id == tombstone_id)
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
            current = self._load(conn, T.c.id == tombstone_id)
        if current is None:
            raise NotFound(f"no tombstone {tombstone_id}")
        return current

    def reopen(
        self, tombstone_id: str, reason: str, *, now: dt.datetime | None = None
    ) -> Tombstone:
        """Send a finished tombstone back to ``received`` (see ``reaper.lifecycle``).

        Compare-and-set from ``refused``/``complete`` only, so two listeners
        reopening the same tombstone at once do it once; the previous plan
        and its outcomes stay stored, the next plan is made afresh.
        """
        return self.transition(
            tombstone_id,
            TombstoneState.RECEIVED,
            expected=[TombstoneState.REFUSED, TombstoneState.COMPLETE],
            reason=reason,
            plan_hash=None,
            next_attempt_at=None,
            now=now,
        )

    # -- observing -------------------------------------------------------

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

    def held_by(self, owner: str) -> list[str]:
        """Ids of tombstones whose lease ``owner`` holds (a restarted controller's own)."""
        with self._db.read("list leased tombstones") as conn:
            return [r.id for r in conn.execute(select(T.c.id).where(T.c.claimed_by == owner))]


def _chunks(values: Sequence[str], size: int) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
