"""The sweep's database lock: one controller sweeps at a time, and knows while it does.

PostgreSQL's advisory lock and MySQL's ``GET_LOCK`` belong to a database
session, and so does the holder's right to sweep. The lock used to be taken
on a pooled connection that SQLAlchemy had begun a transaction on, and left
"idle in transaction" for the whole sweep: ``idle_in_transaction_session_timeout``
ended that session (and the lock with it) behind the holder's back, and a
second controller then swept beside the first.

Now the lock's connection is its own, in autocommit (no transaction is ever
open on it, so the server's idle-in-transaction timeout never applies), and
a keep-alive thread asks the database every ``keepalive`` seconds whether
this session still holds the lock, which also keeps an idle session from
``idle_session_timeout`` or a firewall's idle cut. When the answer is no, or
the session is gone (terminated, a failover, a pooler that hands the
connection to another backend), :attr:`SweepLock.lost` is set and logged once;
the sweep calls :meth:`SweepLock.ensure` before each thing it writes, which
asks again and raises :class:`LockLost`, so a sweep never writes after its
lock is gone, and another controller may then take the lock.

Invariant: while :meth:`SweepLock.ensure` returns, the database says this
session holds the lock. SQLite has one controller: its lock is always held.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import zlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from reaper import log
from reaper.store import Store

LOG = log.get(__name__)
LOCK_NAME = "reaper.sweep"
#: Seconds between two checks of a held lock (far below any server's idle timeout).
KEEPALIVE = 10.0


class LockLost(RuntimeError):
    """This controller no longer holds the sweep lock: its sweep must stop."""


@dataclasses.dataclass(frozen=True)
class _Statements:
    take: str
    give: str
    #: True while this session holds the lock.
    check: str
    #: This session's id on the server (a backend pid, a connection id).
    session: str
    params: dict[str, Any]


def _statements(store: Store, name: str) -> _Statements | None:
    db = store.db
    if db.is_postgresql:
        key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        return _Statements(
            take="SELECT pg_try_advisory_lock(:k)",
            give="SELECT pg_advisory_unlock(:k)",
            # A bigint key below 2**31: classid 0, objid the key, objsubid 1.
            check="SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND classid = 0 AND objid::bigint = :k "
            "AND objsubid = 1 AND granted)",
            session="SELECT pg_backend_pid()",
            params={"k": key},
        )
    if db.is_mysql:
        # Lock names are server-wide: scoped to this database, so deployments
        # sharing a server do not wait for each other's sweeps.
        database = zlib.crc32((db.engine.url.database or "").encode())
        return _Statements(
            take="SELECT GET_LOCK(:k, 0)",
            give="SELECT RELEASE_LOCK(:k)",
            check="SELECT COALESCE(IS_USED_LOCK(:k) = CONNECTION_ID(), 0)",
            session="SELECT CONNECTION_ID()",
            params={"k": f"{name}.{database:08x}"},
        )
    return None


class SweepLock:
    """The sweep lock as taken (true) or refused (false); kept alive while held."""

    def __init__(
        self,
        conn: Connection | None,
        statements: _Statements | None,
        *,
        held: bool,
        session: int | None = None,
        keepalive: float = KEEPALIVE,
        name: str = LOCK_NAME,
    ) -> None:
        self.held = held
        #: The holding session's id on the database server (None on SQLite or if refused).
        self.session = session
        #: Set once the lock is found lost; never cleared.
        self.lost = threading.Event()
        self._conn = conn
        self._sql = statements
        self._name = name
        self._keepalive = keepalive
        self._use = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return self.held

    def start(self) -> None:
        if self.held and self._conn is not None:
            self._thread = threading.Thread(
                target=self._keep, name="reaper-sweep-lock", daemon=True
            )
            self._thread.start()

    def ensure(self) -> None:
        """Return only if the database says this session still holds the lock now."""
        if not self.held:
            raise LockLost(f"{self._name}: this controller does not hold the sweep lock")
        if self._conn is not None and not self.lost.is_set():
            self._check()
        if self.lost.is_set():
            raise LockLost(f"{self._name}: the sweep lock was lost (its database session ended)")

    def _keep(self) -> None:
        while not self._done.wait(self._keepalive) and not self.lost.is_set():
            self._check()

    def _check(self) -> None:
        assert self._conn is not None and self._sql is not None
        error: str | None = None
        with self._use:
            try:
                mine = bool(self._conn.execute(text(self._sql.check), self._sql.params).scalar())
            except Exception as exc:  # the session is gone, or the server unreachable
                mine, error = False, str(exc).strip().splitlines()[0]
        if not mine and not self.lost.is_set():
            self.lost.set()
            LOG.error(
                "sweep lock lost: this controller's sweep stops",
                lock=self._name,
                session=self.session,
                error=error or "the session no longer holds it",
            )

    def release(self) -> None:
        """Stop the keep-alive; give the lock back if it is still held."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if not self.held or self._conn is None or self._sql is None:
            return
        if self.lost.is_set():
            with contextlib.suppress(Exception):
                self._conn.invalidate()  # a dead session must not go back to the pool
            return
        try:
            self._conn.execute(text(self._sql.give), self._sql.params)
        except Exception as exc:  # its session ended: the server released it already
            LOG.warning("sweep lock could not be given back", lock=self._name, error=str(exc))
            with contextlib.suppress(Exception):
                self._conn.invalidate()


@contextlib.contextmanager
def exclusive(
    store: Store, name: str = LOCK_NAME, *, keepalive: float = KEEPALIVE
) -> Iterator[SweepLock]:
    """The sweep lock, true if this process may sweep now (see the module docstring)."""
    statements = _statements(store, name)
    if statements is None:
        yield SweepLock(None, None, held=True, name=name)
        return
    with store.db.engine.connect() as pooled:
        conn = pooled.execution_options(isolation_level="AUTOCOMMIT")
        got = bool(conn.execute(text(statements.take), statements.params).scalar())
        session = int(conn.execute(text(statements.session)).scalar() or 0) if got else None
        lock = SweepLock(
            conn, statements, held=got, session=session, keepalive=keepalive, name=name
        )
        lock.start()
        try:
            yield lock
        finally:
            lock.release()
