"""Statements run on the driver's own cursor, inside a SQLAlchemy connection's transaction.

SQLAlchemy's execution of one statement (an execution context, a result
object, its events) costs ~50 µs of CPU even for ``exec_driver_sql``; the
driver itself runs a small SQLite statement in ~3 µs. The intake writes a
batch of notifications in a handful of statements per transaction, and
under load a batch holds ~16 notifications, so those per-statement costs
were a large part of what persisting a notification cost. The statements of
that hot path (``BEGIN IMMEDIATE``, the redelivery lookup, the audit head,
the bulk inserts) run here on SQLite, and MySQL's ``INSERT IGNORE`` of many
rows runs here as one statement (``bulk.py``); everything else keeps
SQLAlchemy.

Invariants: the statement runs on the connection's DBAPI connection, so in
its transaction, exactly as ``conn.exec_driver_sql`` would run it; any error
is wrapped as SQLAlchemy wraps it (:meth:`sqlalchemy.exc.DBAPIError.instance`,
the connection invalidated when the dialect says the error is a
disconnect), so the store's error translation sees what it always saw.
What is bypassed is SQLAlchemy's ``before_cursor_execute`` and
``after_cursor_execute`` events: nothing in reaper listens to them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run ``sql`` once with ``params`` (the driver's paramstyle); its rows, if any."""
    with _on_cursor(conn, sql, params) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def rowcount(conn: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run ``sql`` once with ``params``; the number of rows it changed (as the driver counts)."""
    with _on_cursor(conn, sql, params) as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run ``sql`` once per row of ``rows`` in one driver call; the rows it changed."""
    with _on_cursor(conn, sql, rows, many=True) as cursor:
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)


@contextlib.contextmanager
def _on_cursor(conn: Connection, sql: str, params: Any, *, many: bool = False) -> Iterator[Any]:
    """A driver cursor of ``conn``, closed afterwards; any error wrapped as SQLAlchemy would."""
    try:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    except Exception as error:
        raise _wrapped(conn, sql, params, error, many=False) from error
    try:
        yield cursor
    except Exception as error:
        raise _wrapped(conn, sql, params, error, many=many) from error
    finally:
        cursor.close()


def _wrapped(conn: Connection, sql: str, params: Any, error: Exception, *, many: bool) -> Any:
    """``error`` as SQLAlchemy would have raised it from ``conn.exec_driver_sql``."""
    dialect = conn.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    disconnect = False
    if isinstance(error, dbapi_error):
        with contextlib.suppress(Exception):  # the error at hand is what to report
            disconnect = dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
    wrapped = sa_exc.DBAPIError.instance(
        sql,
        params,
        error,
        dbapi_error,
        connection_invalidated=disconnect,
        dialect=dialect,
        ismulti=many,
    )
    if disconnect:
        conn.invalidate(wrapped if isinstance(wrapped, BaseException) else None)
    return wrapped
