"""Many rows in one INSERT, without SQLAlchemy's work per row where the driver allows.

An ``executemany`` through SQLAlchemy builds a parameter dict and runs every
column's bind processor for every row. The intake writes three rows per
notification (its tombstone, its trigger, its ``receive`` record), and on
SQLite that per-row work cost twice what SQLite spent inserting them.

On SQLite, whose driver's ``executemany`` is a C loop over one prepared
statement, :class:`BulkInsert` compiles the statement once per set of
columns, runs each column's bind processor once per *distinct* value of the
batch (a batch's timestamps are mostly one value) and hands the driver's
own cursor tuples (``driver.py``: SQLAlchemy's execution of a statement cost
more than SQLite's insert of a small batch). On PostgreSQL and MySQL a
driver-level ``executemany`` would be one round trip per row (psycopg2) or
split where it likes (PyMySQL), so :meth:`BulkInsert.execute_as_one` repeats
the compiled row's ``VALUES`` group into one statement (``INSERT IGNORE`` and
``ON CONFLICT DO NOTHING`` inserts use it); :meth:`BulkInsert.execute` keeps
SQLAlchemy's ``executemany`` there, which folds the rows into such
statements on PostgreSQL ("insertmanyvalues").

Invariant: the rows written, and the row count returned, are exactly those
of ``conn.execute(stmt, rows)`` (``tests/functional/test_store_bulk.py``).
Errors are the driver's, wrapped by SQLAlchemy as usual, so the store's
error translation sees what it always saw.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from reaper.store import driver

Processor = Callable[[Any], Any]
_Compiled = tuple[str, tuple[str, ...], list[Processor | None]]


class BulkInsert:
    """One INSERT statement, run for many rows at once (see the module docstring)."""

    def __init__(self, stmt: Insert) -> None:
        self._stmt = stmt
        self._lock = threading.Lock()
        #: (dialect, the rows' keys) -> SQL text, its bound columns in order, their processors.
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert ``rows`` (all with the same keys); the number of rows inserted."""
        if not rows:
            return 0
        dialect = conn.dialect
        if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
            return int(conn.execute(self._stmt, list(rows)).rowcount)
        sql, order, processors = self._compile(conn, tuple(rows[0]))
        columns = self._columns(rows, order, processors)
        return driver.executemany(conn, sql, list(zip(*columns, strict=True)))

    def execute_as_one(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]], *, chunk: int | None = None
    ) -> int:
        """Insert ``rows`` with multi-row ``VALUES`` statements on the driver's cursor.

        The one-row statement is compiled once and its ``VALUES`` group
        repeated, each value bound by the driver; what follows the group
        (``ON CONFLICT ... DO NOTHING``) stays after the last row. One
        statement for all rows, or ``chunk`` rows a statement.

        For MySQL's ``INSERT IGNORE``, whose ``SHOW WARNINGS`` covers only the
        last statement (all rows must be one), SQLAlchemy compiled a new
        multi-row statement for every batch (``insert().values(rows)``); on
        PostgreSQL its ``executemany`` built a parameter dict and ran every
        bind processor for every row before folding them into such statements.
        """
        if not rows:
            return 0
        sql, order, processors = self._compile(conn, tuple(rows[0]))
        at, end = sql.rfind(" VALUES ("), -1
        if at >= 0:
            end = sql.find(")", at)
        group = sql[at + 8 : end + 1]
        if at < 0 or end < 0 or group.count("(") != 1:
            raise ValueError(f"no single row of values to repeat in {sql!r}")
        head, tail = sql[: at + 8], sql[end + 1 :]
        columns = self._columns(rows, order, processors)
        tuples = list(zip(*columns, strict=True))
        step = chunk or len(tuples)
        inserted = 0
        for first in range(0, len(tuples), step):
            part = tuples[first : first + step]
            flat = [value for row in part for value in row]
            statement = f"{head}{', '.join([group] * len(part))}{tail}"
            inserted += driver.rowcount(conn, statement, flat)
        return inserted

    def _columns(
        self,
        rows: Sequence[Mapping[str, Any]],
        order: tuple[str, ...],
        processors: list[Processor | None],
    ) -> list[list[Any]]:
        """The rows' values column by column, in ``order``, bound by ``processors``."""
        columns = [[row[name] for row in rows] for name in order]
        for index, processor in enumerate(processors):
            if processor is not None:
                columns[index] = _processed(columns[index], processor)
        return columns

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled:
        key = (id(conn.dialect), keys)
        found = self._compiled.get(key)
        if found is not None:
            return found
        dialect = conn.dialect
        compiled = self._stmt.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
        sql = compiled.string
        order = tuple(compiled.positiontup or ())
        if not order and dialect.paramstyle == "pyformat":
            # PyMySQL's style: named placeholders, which it also takes by position (``%s``).
            order = tuple(_NAMED.findall(sql))
            sql = _NAMED.sub("%s", sql)
        if sorted(order) != sorted(keys):
            raise ValueError(f"the statement binds {list(order)}, not the rows' {list(keys)}")
        table = self._stmt.table
        processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[union-attr]
            for name in order
        ]
        built = (sql, order, processors)
        with self._lock:
            self._compiled[key] = built
        return built


def _processed(values: list[Any], processor: Processor) -> list[Any]:
    """``processor`` over ``values``, once per distinct value (None stays None, as bound).

    A batch's rows mostly share one object per column (its time, ``None``):
    a value that *is* the one before reuses its result without a lookup.
    """
    done: dict[Any, Any] = {}
    out = []
    last: Any = _MISSING
    found: Any = None
    for value in values:
        if value is last:
            out.append(found)
            continue
        last = value
        if value is None:
            found = processor(None)
            out.append(found)
            continue
        try:
            key = (type(value), value)
            found = done.get(key, _MISSING)
        except TypeError:
            found = processor(value)
            out.append(found)
            continue
        if found is _MISSING:
            found = done[key] = processor(value)
        out.append(found)
    return out


_MISSING = object()

#: A named placeholder of the ``pyformat`` style: ``%(name)s``.
_NAMED = re.compile(r"%\((\w+)\)s")
