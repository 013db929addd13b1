"""Which stream an append takes, and the seqs its records get.

With ``[audit] streams`` = 1 (and always on SQLite and MySQL, which have no
sequences) an append locks row 1 of ``audit_chain_head``. Stream 1 numbers
its records right after that row's ``seq`` as long as the trail is one
chain (no other stream has records), exactly as before streams existed,
also after an append rolled back; it draws as many values from the
sequence ``audit_seq`` all the same, so the sequence stays past every seq
and a store later written in several streams never reuses one.

With K > 1 streams an append takes the first of rows 1..K that no other
transaction holds (``FOR UPDATE SKIP LOCKED``, PostgreSQL and MariaDB >=
10.6), and waits only when all K are busy (then on a row chosen by its
process, so waiters spread). Its records are numbered from ``audit_seq``,
drawn while the row is held: within one stream seqs therefore rise with
positions (the next holder draws after this one committed), which is what
lets verify walk the whole trail in seq order keeping one head per stream.
A rolled-back append leaves a gap in seq, never in a stream's positions.

A checkpoint locks every row (:func:`lock_all`): it waits for the appends in
flight, so what it signs is exactly the records up to its ``seq``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Connection, Row

from reaper.audit import chain
from reaper.audit.chain import FIRST_STREAM, ChainHead, ChainRecord, Sealable, StreamHead
from reaper.store import driver, schema
from reaper.store.database import Database

H = schema.audit_chain_head

_LOCK_FIRST = select(H).where(H.c.id == FIRST_STREAM).with_for_update()
_LOCK_ALL = select(H).where(H.c.id <= schema.AUDIT_STREAMS).order_by(H.c.id).with_for_update()
_READ_ALL = select(H).where(H.c.id <= schema.AUDIT_STREAMS).order_by(H.c.id)
_OTHERS = select(func.max(H.c.seq)).where(H.c.id != FIRST_STREAM, H.c.pos > 0)
_DRAW = text("SELECT nextval('audit_seq') FROM generate_series(1, :n)")
_DRAW_AND_OTHERS = text(
    "SELECT nextval('audit_seq'), (SELECT max(seq) FROM audit_chain_head "
    "WHERE id <> 1 AND pos > 0) FROM generate_series(1, :n)"
)
_NEXTVAL_MARIADB = text("SELECT NEXTVAL(audit_seq)")
#: Stream 1's head, read and moved on SQLite's driver cursor (``reaper.store.driver``):
#: the write lock is the transaction's (``BEGIN IMMEDIATE``), so no FOR UPDATE.
_HEAD_SQLITE = "SELECT id, seq, pos, head FROM audit_chain_head WHERE id = 1"
_MOVE_SQLITE = "UPDATE audit_chain_head SET seq = ?, head = ?, pos = ? WHERE id = ?"
_MOVE = (
    update(H)
    .where(H.c.id == bindparam("stream"))
    .values(seq=bindparam("new_seq"), head=bindparam("new_head"), pos=bindparam("new_pos"))
)


def has_sequences(db: Database) -> bool:
    """Whether the store numbers records from ``audit_seq`` (PostgreSQL, MariaDB >= 10.3)."""
    dialect = db.engine.dialect
    if dialect.name == "postgresql":
        return True
    return bool(getattr(dialect, "is_mariadb", False)) and _version(db) >= (10, 3)


def usable_streams(db: Database, wanted: int) -> int:
    """``wanted`` where streams work (SKIP LOCKED and a sequence), else 1."""
    dialect = db.engine.dialect
    if dialect.name == "postgresql":
        return wanted
    if getattr(dialect, "is_mariadb", False) and _version(db) >= (10, 6):
        return wanted
    return 1


def _version(db: Database) -> tuple[int, ...]:
    info = db.engine.dialect.server_version_info
    if info is None:
        with db.engine.connect():
            info = db.engine.dialect.server_version_info
    return tuple(info or ())


def stream_head(row: Row[Any]) -> StreamHead:
    """A head row as a stream: row 1 with ``pos`` 0 is one chain, at position ``seq``."""
    pos = row.pos or (row.seq if row.id == FIRST_STREAM else 0)
    return StreamHead(int(row.id), int(pos), int(row.seq), row.head)


def read_heads(conn: Connection, *, lock: bool = False) -> tuple[ChainHead, Row[Any]]:
    """The trail's head from every stream row, and row 1 (checkpoint head, archive marks)."""
    rows = conn.execute(_LOCK_ALL if lock else _READ_ALL).all()
    return chain.trail_head(stream_head(r) for r in rows), rows[0]


class HeadRow(NamedTuple):
    """The columns of a head row an append reads."""

    id: int
    seq: int
    pos: int | None
    head: str


class Appender:
    """Seals and places one append's records in a stream; see the module docstring."""

    def __init__(self, db: Database, streams: int = 1) -> None:
        self._sequences = has_sequences(db)
        self._mariadb = db.engine.dialect.name != "postgresql"
        self._sqlite = db.is_sqlite
        self.streams = max(1, min(streams, schema.AUDIT_STREAMS)) if self._sequences else 1
        self._take = (
            select(H)
            .where(H.c.id <= self.streams)
            .order_by(H.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        #: The row this process waits on when every stream is busy.
        self.fallback = 1 + os.getpid() % self.streams

    def append(self, conn: Connection, drafts: Sequence[Sealable]) -> list[ChainRecord]:
        """Seal ``drafts`` at the end of a stream and move its head row (the caller inserts)."""
        if self._sqlite:
            return self._append_sqlite(conn, drafts)
        if self.streams > 1:
            row = conn.execute(self._take).first()
            if row is None:
                row = conn.execute(select(H).where(H.c.id == self.fallback).with_for_update()).one()
        else:
            row = conn.execute(_LOCK_FIRST).one()
        if row.id == FIRST_STREAM:
            seqs = self._first_stream(conn, row, len(drafts))
        else:
            seqs = self._draw(conn, len(drafts))
        sealed, move = self.seal(row, seqs, drafts)
        conn.execute(_MOVE, move)
        return sealed

    def _append_sqlite(self, conn: Connection, drafts: Sequence[Sealable]) -> list[ChainRecord]:
        """:meth:`append` on SQLite: one stream, numbered after its head, no sequence."""
        row = HeadRow(*driver.execute(conn, _HEAD_SQLITE)[0])  # stream 1 (FIRST_STREAM)
        sealed, move = self.seal(row, range(row.seq + 1, row.seq + len(drafts) + 1), drafts)
        params = (move["new_seq"], move["new_head"], move["new_pos"], move["stream"])
        driver.execute(conn, _MOVE_SQLITE, params)
        return sealed

    def seal(
        self, row: Any, seqs: Sequence[int], drafts: Sequence[Sealable]
    ) -> tuple[list[ChainRecord], dict[str, Any]]:
        """``drafts`` sealed after head row ``row`` at ``seqs``, and the head row's new values.

        ``row`` is the locked head row (``id``, ``seq``, ``pos``, ``head``); the
        second value holds the parameters of the head update (``_MOVE``).
        """
        at = stream_head(row)
        sealed = chain.seal_stream(at, seqs, drafts)
        last = sealed[-1]
        plain = row.id == FIRST_STREAM and not row.pos and last.pos is None
        return sealed, {
            "stream": at.stream,
            "new_seq": last.seq,
            "new_head": last.head,
            "new_pos": 0 if plain else at.pos + len(sealed),
        }

    def _first_stream(self, conn: Connection, row: Row[Any], n: int) -> list[int]:
        """Seqs for stream 1 (:meth:`first_stream_seqs`), drawing and checking the others."""
        if not self._sequences:
            return list(range(row.seq + 1, row.seq + n + 1))
        if self._mariadb:
            drawn = self._draw(conn, n)
            others = conn.execute(_OTHERS).scalar()
        else:  # one round trip: the seqs, and whether another stream has records
            rows = conn.execute(_DRAW_AND_OTHERS, {"n": n}).all()
            drawn, others = sorted(int(r[0]) for r in rows), rows[0][1]
        return self.first_stream_seqs(row, drawn, others)

    def first_stream_seqs(self, row: Any, drawn: list[int], others: int | None) -> list[int]:
        """Seqs for stream 1: right after its head while the trail is one chain.

        So a store that one process writes at a time numbers its records
        without gaps, as before streams, even after an append rolled back.
        The sequence is drawn all the same (``drawn``, ascending), to stay
        past every seq; ``others`` is the highest seq of another stream that
        has records, read after the row was locked (``None``: there is none).
        With several streams this is always ``drawn``.
        """
        n = len(drawn)
        after = list(range(row.seq + 1, row.seq + n + 1))
        if others is not None or (row.pos and row.pos != row.seq):
            return drawn
        # With several streams, a writer starting another stream may hold (not yet
        # committed) a seq right after this head: only seqs drawn here are safe then.
        if self.streams > 1 and drawn != after:
            return drawn
        return after

    def _draw(self, conn: Connection, n: int) -> list[int]:
        """``n`` fresh seqs from ``audit_seq``, ascending."""
        if self._mariadb:
            return [int(conn.execute(_NEXTVAL_MARIADB).scalar_one()) for _ in range(n)]
        return sorted(int(v) for v in conn.execute(_DRAW, {"n": n}).scalars())
