"""Transactions and error translation shared by the repositories.

Every database call of the store goes through :meth:`Database.write` or
:meth:`Database.read`, so there is one place that decides how a transaction
starts (``BEGIN IMMEDIATE`` on SQLite for writers), how driver errors become
the store's typed errors, and when a failure leaves a commit's fate unknown.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.engine.url import make_url

from reaper import log
from reaper.store import engine as engines
from reaper.store.errors import SchemaError, StoreError, StoreUnavailable

LOG = log.get(__name__)

_SCHEMA_HINTS = ("no such table", "no such column", "undefined table", "undefined column")


def translate(error: Exception, what: str, *, during_commit: bool = False) -> StoreError:
    """The store error a driver error means, with words an operator can act on."""
    if isinstance(error, StoreError):
        return error
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0:1]
    reason = detail[0] if detail else type(error).__name__
    lowered = reason.lower()
    if any(hint in lowered for hint in _SCHEMA_HINTS):
        return SchemaError(f"{what}: the database schema is not reaper's ({reason})")
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

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

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
        dialect_insert = postgresql.insert if self.is_postgresql else sqlite.insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        result: CursorResult[Any] = conn.execute(stmt, values)  # type: ignore[arg-type]
        return result.rowcount

    def dispose(self) -> None:
        self.engine.dispose()
