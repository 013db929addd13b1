"""Appends on PostgreSQL in two statements: take-and-draw, then move-and-insert.

Statement by statement an append cost the head row's lock, the seq draw,
the head update and the insert, each a round trip, between BEGIN and
COMMIT: six round trips where a plain insert costs three, and B3 measured
the chain at a quarter of plain inserts. Here, in the same transaction
(the caller's :meth:`Database.write_in`, so commit, rollback and errors are
exactly as before):

1. lock a stream's head row and draw the records' seqs from ``audit_seq``,
   in one statement (the row is locked first, so the seqs are drawn while
   it is held, as :mod:`reaper.audit.streams` requires);
2. move the head row and insert the records, in one statement (the update
   is a data-modifying CTE of the insert).

The records are sealed between the two, in Python, by the same
:class:`~reaper.audit.streams.Appender` rules (which row, which seqs): what
is stored is byte for byte what the statement-by-statement path stores.
COMMIT stays its own round trip, so a connection lost before it still means
nothing was written, and only one lost during it leaves the outcome unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from reaper.audit.chain import FIRST_STREAM, ChainRecord, Sealable
from reaper.audit.streams import Appender

#: The columns of ``audit_records`` an append writes, in the order of ``repository._row``.
COLUMNS = (
    "seq",
    "recorded_at",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "tombstone_id",
    "plan_hash",
    "body",
    "record_hash",
    "prev_head",
    "head",
    "stream",
    "pos",
)

#: Rows per INSERT statement of a large append (all in the one string).
ROWS_PER_INSERT = 500

#: Any free row of 1..K (``FOR UPDATE SKIP LOCKED``), its seqs drawn once it is locked.
#: With several streams stream 1 takes the seqs it drew, so ``others`` is not needed.
TAKE_FREE = (
    "WITH h AS (SELECT id, seq, pos, head FROM audit_chain_head "
    "WHERE id <= %(streams)s ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "SELECT h.id, h.seq, h.pos, h.head, nextval('audit_seq') AS drawn, NULL AS others "
    "FROM h, generate_series(1, %(n)s)"
)

#: Row ``stream``, waiting for it: locked by the first statement, then read (a new
#: snapshot, taken once the lock is held, so the row and ``others`` are current).
LOCK_ONE = (
    "SELECT 1 FROM audit_chain_head WHERE id = %(stream)s FOR UPDATE; "
    "SELECT h.id, h.seq, h.pos, h.head, nextval('audit_seq') AS drawn, "
    "(SELECT max(seq) FROM audit_chain_head WHERE id <> 1 AND pos > 0) AS others "
    "FROM audit_chain_head h, generate_series(1, %(n)s) WHERE h.id = %(stream)s"
)

MOVE = (
    "WITH moved AS (UPDATE audit_chain_head SET seq = %(new_seq)s, head = %(new_head)s, "
    "pos = %(new_pos)s WHERE id = %(stream)s) "
)
INSERT = (
    "INSERT INTO audit_records (seq, recorded_at, action, outcome, target_type, target_id, "
    "tombstone_id, plan_hash, body, record_hash, prev_head, head, stream, pos) VALUES "
)
#: One row's placeholders; ``{i}`` is the row's index in the append.
_VALUES = "(" + ", ".join("%(" + column + "_{i})s" for column in COLUMNS) + ")"


def write_statement(
    rows: Sequence[Mapping[str, Any]], move: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The second statement (head update, inserts of ``rows``) and its parameters.

    Only placeholders are built here; every value is a bound parameter. A
    large append is several INSERTs in the one string, the first with the update.
    """
    params: dict[str, Any] = dict(move)
    inserts = []
    for first in range(0, len(rows), ROWS_PER_INSERT):
        values = []
        for i in range(first, min(first + ROWS_PER_INSERT, len(rows))):
            row = rows[i]
            for column in COLUMNS:
                params[f"{column}_{i}"] = row[column]
            values.append(_VALUES.format(i=i))
        inserts.append(INSERT + ", ".join(values))
    return MOVE + "; ".join(inserts), params


class PgAppender:
    """Appends on PostgreSQL in two statements; see the module docstring."""

    def __init__(self, appender: Appender) -> None:
        self._appender = appender

    def append(
        self,
        conn: Connection,
        drafts: Sequence[Sealable],
        to_row: Callable[[ChainRecord], Mapping[str, Any]],
    ) -> list[ChainRecord]:
        """Append ``drafts`` in order in ``conn``'s transaction; returns them sealed."""
        rows = self._take(conn, len(drafts))
        row = rows[0]
        drawn = sorted(int(r.drawn) for r in rows)
        if row.id == FIRST_STREAM and self._appender.streams == 1:
            seqs = self._appender.first_stream_seqs(row, drawn, row.others)
        else:
            seqs = drawn  # with several streams stream 1 takes what it drew too
        sealed, move = self._appender.seal(row, seqs, drafts)
        sql, params = write_statement([to_row(r) for r in sealed], move)
        conn.exec_driver_sql(sql, params)
        return sealed

    def _take(self, conn: Connection, n: int) -> list[Any]:
        """Lock a head row and draw ``n`` seqs: one row per seq, each with the head row's fields."""
        appender = self._appender
        if appender.streams == 1:
            return conn.exec_driver_sql(LOCK_ONE, {"stream": 1, "n": n}).all()
        rows = conn.exec_driver_sql(TAKE_FREE, {"streams": appender.streams, "n": n}).all()
        if rows:
            return rows
        # Every stream busy: wait on this process's own.
        return conn.exec_driver_sql(LOCK_ONE, {"stream": appender.fallback, "n": n}).all()
