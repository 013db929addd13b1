"""Intake: recording a trigger against its identity's tombstone, once.

oslo.messaging delivers at least once and Keystone may announce one deletion
several times, so a trigger is recorded against the tombstone of its
identity (created on first sight) and a ``message_id`` seen before is
recognised as a redelivery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection

from reaper.model import IdentityRef, Tombstone, Trigger, utcnow
from reaper.store import driver
from reaper.store.database import Database, retry_conflicts
from reaper.store.tombstones.rows import (
    TR,
    T,
    load,
    new_row,
    new_tombstone,
    tombstone_of,
    trigger_row,
)
from reaper.uuids import uuid4s

#: The message ids among ``ids`` recorded before, and their tombstones. Built once: a
#: batch's statements were built anew each time, which cost a small batch more than
#: its rows.
_SEEN = select(TR.c.message_id, TR.c.tombstone_id).where(
    TR.c.message_id.in_(bindparam("ids", expanding=True))
)
#: The same on SQLite, on the driver's cursor (``reaper.store.driver``), this many ids a time.
_SEEN_SQLITE = "SELECT message_id, tombstone_id FROM tombstone_triggers WHERE message_id IN ({})"
_SEEN_CHUNK = 500


@dataclass(frozen=True)
class TriggerResult:
    """What recording a trigger did.

    ``created``: the tombstone is new. ``duplicate``: this ``message_id`` had
    been recorded before (a redelivery), so nothing was added.
    """

    tombstone: Tombstone
    created: bool
    duplicate: bool


class TriggerIntake:
    def __init__(self, db: Database) -> None:
        self._db = db

    @retry_conflicts
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

    @retry_conflicts
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
                seen = self._seen(conn, message_ids)
            identities = {(i.kind.value, i.id): i for i, _ in items}
            keys = sorted(identities)
            # Propose an id for every identity; the row whose id is ours was created now.
            proposed = dict(zip(keys, uuid4s(len(keys)), strict=True))
            fresh = [new_row(proposed[(kind, ident)], kind, ident, now) for kind, ident in keys]
            inserted = self._db.insert_ignore(conn, T, fresh, ("kind", "identity_id"))
            loaded: dict[tuple[str, str], Tombstone]
            if inserted == len(keys):
                # Every identity is new (the usual batch): the rows are ours, as inserted,
                # and already locked by the insert; reading them back would cost as much.
                ids = proposed
                loaded = {key: new_tombstone(ids[key], identities[key], now) for key in keys}
            else:
                rows_by_key = self._rows_of(conn, keys)
                ids = {key: row.id for key, row in rows_by_key.items()}
                loaded = {key: tombstone_of(row, []) for key, row in rows_by_key.items()}
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
                    rows.append(trigger_row(ids[key], trigger, now))
                results.append((key, created, duplicate))
            if rows:
                self._db.insert_ignore(conn, TR, rows, ("message_id",))
            touched = sorted({ids[k] for k, created, dup in results if not created and not dup})
            if touched:
                conn.execute(update(T).where(T.c.id.in_(touched)).values(updated_at=now))
        return [
            TriggerResult(loaded[key], created=created, duplicate=dup)
            for key, created, dup in results
        ]

    def _seen(self, conn: Connection, message_ids: Sequence[str]) -> dict[str, str]:
        """Which of ``message_ids`` were recorded before, and their tombstones."""
        if not self._db.is_sqlite:
            return dict(conn.execute(_SEEN, {"ids": message_ids}).all())
        seen: dict[str, str] = {}
        for chunk in _chunks(message_ids, _SEEN_CHUNK):
            sql = _SEEN_SQLITE.format(", ".join("?" * len(chunk)))
            seen.update(driver.execute(conn, sql, chunk))
        return seen

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
                found = load(conn, T.c.id == seen)
                assert found is not None
                return TriggerResult(found, created=False, duplicate=True)
        created = (
            self._db.insert_ignore(
                conn,
                T,
                new_row(str(uuid.uuid4()), identity.kind.value, identity.id, now),
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
            trigger_row(tid, trigger, now),
            ("message_id",),
        )
        if not created and inserted:
            conn.execute(update(T).where(T.c.id == tid).values(updated_at=now))
        found = load(conn, T.c.id == tid)
        assert found is not None
        return TriggerResult(found, created=created, duplicate=not inserted)


def _chunks(values: Sequence[str], size: int) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
