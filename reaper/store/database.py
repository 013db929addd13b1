"""Transactions and error translation shared by the repositories.

Every database call of the store goes through :meth:`Database.write` or
:meth:`Database.read`, so there is one place that decides how a transaction
starts (``BEGIN IMMEDIATE`` on SQLite for writers), how driver errors become
the store's typed errors, and when a failure leaves a commit's fate unknown.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url

from reaper import log
from reaper.store import driver
from reaper.store import engine as engines
from reaper.store.bulk import BulkInsert
from reaper.store.errors import Deadlock, SchemaError, StoreError, StoreUnavailable

LOG = log.get(__name__)

_SCHEMA_HINTS = (
    "no such table",
    "no such column",
    "undefined table",
    "undefined column",
    "doesn't exist",
    "unknown column",
)

#: MySQL error numbers that are refusals, not a database going away (PyMySQL
#: reports every server error from 1000 up as an OperationalError): a trigger's
#: SIGNAL (the append-only audit tables), a missing privilege.
_MYSQL_REFUSALS = frozenset({1142, 1143, 1227, 1644})

#: MySQL's warning for a row INSERT IGNORE skipped as a duplicate key.
_MYSQL_DUPLICATE_KEY = 1062

#: Rows per INSERT statement of :meth:`Database.insert_ignore` on PostgreSQL (what
#: SQLAlchemy's "insertmanyvalues" folds into one statement by default).
PG_ROWS_PER_INSERT = 1000

#: MySQL's deadlock; PostgreSQL's deadlock and serialization failure.
_MYSQL_DEADLOCK = 1213
_PG_CONFLICTS = frozenset({"40P01", "40001"})

#: How many times a method of a repository runs its transaction again after
#: the database rolled it back to break a deadlock.
CONFLICT_RETRIES = 8

P = ParamSpec("P")
R = TypeVar("R")


def translate(error: Exception, what: str, *, during_commit: bool = False) -> StoreError:
    """The store error a driver error means, with words an operator can act on."""
    if isinstance(error, StoreError):
        return error
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0:1]
    reason = detail[0] if detail else type(error).__name__
    lowered = reason.lower()
    if _is_conflict(error):
        return Deadlock(f"{what}: {reason}; the database rolled it back, nothing was written")
    if any(hint in lowered for hint in _SCHEMA_HINTS):
        return SchemaError(f"{what}: the database schema is not reaper's ({reason})")
    if _mysql_errno(error) in _MYSQL_REFUSALS:
        return StoreError(f"{what}: {reason}")
    unavailable = isinstance(
        error,
        (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
        ),
    ) or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)
    if unavailable:
        if during_commit:
            return StoreUnavailable(
                f"{what}: the database went away during COMMIT ({reason}); "
                "whether the transaction landed is unknown",
                commit_unknown=True,
            )
        return StoreUnavailable(
            f"{what}: the database is unavailable ({reason}); nothing was written"
        )
    return StoreError(f"{what}: {reason}")


def _is_conflict(error: Exception) -> bool:
    orig = getattr(error, "orig", None)
    return _mysql_errno(error) == _MYSQL_DEADLOCK or getattr(orig, "pgcode", None) in _PG_CONFLICTS


def retry_conflicts(method: Callable[P, R]) -> Callable[P, R]:
    """Run a repository method again when the database broke a deadlock with it.

    Only for methods that open their own write transaction: the whole of it
    was rolled back, so running it again is the same as running it once.
    Called with ``conn`` (a caller's transaction), the method is not
    retried: that transaction is dead and its owner decides. The ecosystem's
    way (oslo.db's ``wrap_db_retry(retry_on_deadlock=True)``); MySQL's
    manual says the same.
    """

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs.get("conn") is not None:
            return method(*args, **kwargs)
        for attempt in itertools.count(1):
            try:
                return method(*args, **kwargs)
            except Deadlock:
                if attempt > CONFLICT_RETRIES:
                    raise
                LOG.debug("transaction rolled back by a deadlock, running it again")
                time.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311 - jitter
        raise AssertionError("unreachable")  # pragma: no cover

    return run


def _mysql_errno(error: Exception) -> int | None:
    orig = getattr(error, "orig", None)
    args = getattr(orig, "args", ())
    if type(orig).__module__.startswith("pymysql") and args and isinstance(args[0], int):
        return args[0]
    return None


class Database:
    """An engine, and how reaper runs transactions on it."""

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.engine: Engine = engines.create(url, connect_timeout=connect_timeout)
        self.dialect: str = self.engine.dialect.name
        #: SQLite has one writer at a time; threads of this process queue here for it
        #: rather than in SQLite's busy handler, which sleeps in growing steps (up to
        #: 100 ms) and so leaves the database idle while writers wait.
        self._writers = threading.Lock() if self.dialect == "sqlite" else None
        #: The INSERT ... ON CONFLICT DO NOTHING statements, built once each.
        self._inserts: dict[tuple[str, tuple[str, ...]], BulkInsert] = {}

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_mysql(self) -> bool:
        """MySQL or MariaDB."""
        return self.dialect in engines.MYSQL_BACKENDS

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """A transaction that will write: serialized with other writers on SQLite."""
        with (
            self._writers or contextlib.nullcontext(),
            self._transaction(what, immediate=True) as conn,
        ):
            yield conn

    @contextlib.contextmanager
    def write_in(self, conn: Connection | None, what: str) -> Iterator[Connection]:
        """Join the caller's write transaction ``conn``, or open one with :meth:`write`.

        Lets a repository method be one step of a larger unit of work (the
        listener records tombstones and their audit records in one commit)
        without knowing it; the caller's transaction owns commit and errors.
        """
        if conn is not None:
            yield conn
            return
        with self.write(what) as own:
            yield own

    @contextlib.contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        with self._transaction(what, immediate=False) as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, what: str, *, immediate: bool) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except Exception as exc:
            raise translate(exc, what) from exc
        try:
            if immediate:
                conn.execution_options(**{engines.IMMEDIATE: True})
            try:
                tx = conn.begin()
            except Exception as exc:
                raise translate(exc, what) from exc
            try:
                yield conn
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    tx.rollback()
                if isinstance(exc, (sa_exc.SQLAlchemyError,)):
                    raise translate(exc, what) from exc
                raise
            try:
                tx.commit()
            except Exception as exc:
                raise translate(exc, what, during_commit=True) from exc
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def insert_ignore(
        self,
        conn: Connection,
        table: Table,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        conflict: Sequence[str],
    ) -> int:
        """INSERT ... ON CONFLICT DO NOTHING; returns the number of rows inserted."""
        if self.is_mysql:
            return self._insert_ignore_mysql(conn, table, values)
        if isinstance(values, Mapping):
            values = [values]
        key = (table.name, tuple(conflict))
        bulk = self._inserts.get(key)
        if bulk is None:
            dialect_insert = postgresql.insert if self.is_postgresql else sqlite.insert
            stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
            bulk = self._inserts.setdefault(key, BulkInsert(stmt))
        if self.is_postgresql:
            return bulk.execute_as_one(conn, values, chunk=PG_ROWS_PER_INSERT)
        return bulk.execute(conn, values)

    def _insert_ignore_mysql(
        self,
        conn: Connection,
        table: Table,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    ) -> int:
        """MySQL's INSERT IGNORE, made as strict as ON CONFLICT DO NOTHING.

        ``ON DUPLICATE KEY UPDATE`` cannot say how many rows it inserted
        (SQLAlchemy's connections count a row left as it was as affected),
        so this is INSERT IGNORE, which counts only inserted rows. IGNORE
        also turns other errors (a foreign key, a NOT NULL column, a value
        that does not fit) into warnings and carries on: any warning but a
        skipped duplicate fails the statement here, and the caller's
        transaction rolls it back. One statement for all rows, so that
        ``SHOW WARNINGS`` covers them all, built from a one-row statement
        compiled once (``BulkInsert.execute_as_one``) and run with the
        warnings query on the driver's cursor (``driver.py``).
        """
        rows = [values] if isinstance(values, Mapping) else list(values)
        if not rows:
            return 0
        bulk = self._inserts.get((table.name, ()))
        if bulk is None:
            stmt = table.insert().prefix_with("IGNORE")
            bulk = self._inserts.setdefault((table.name, ()), BulkInsert(stmt))
        inserted = bulk.execute_as_one(conn, rows)
        problems = [
            f"{code}: {message}"
            for _level, code, message in driver.execute(conn, "SHOW WARNINGS")
            if code != _MYSQL_DUPLICATE_KEY
        ]
        if problems:
            raise StoreError(f"inserting into {table.name}: {'; '.join(problems)}")
        return inserted

    def dispose(self) -> None:
        self.engine.dispose()
