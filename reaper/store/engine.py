"""Engines for the supported databases, configured the way the store needs.

SQLite (the embedded default) gets WAL so readers never block the writer,
``synchronous=FULL`` because an audit record that vanishes on power loss is
a gap, foreign keys on, a busy timeout instead of instant "database is
locked", and reaper-controlled ``BEGIN``: pysqlite's own transaction handling
defers locking until the first write, which lets two appenders read the same
chain head. Transactions that will write start with ``BEGIN IMMEDIATE``.

PostgreSQL gets a connect timeout, pre-ping (a pooled connection the server
closed is replaced instead of failing the next append) and an
``application_name`` so operators can see reaper in ``pg_stat_activity``.

MySQL 8 and MariaDB 10.6+ (``mysql+pymysql://``; a bare ``mysql://`` or
``mariadb://`` means PyMySQL too, the one driver reaper ships) get the same,
plus what makes them behave like the other two: ``utf8mb4`` on the wire
whatever the URL's ``charset`` says (DevStack writes ``charset=utf8``, which
is MySQL's three-byte utf8 and cannot carry every Keystone name), strict
``sql_mode`` (a value that does not fit is an error, never silently cut),
``READ COMMITTED`` (PostgreSQL's level: a locking read sees what others
committed, and claims take no gap locks that would block other controllers'
inserts) and a pool recycle below the server's ``wait_timeout``.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

from reaper.store import driver

#: Execution option that makes a SQLite transaction ``BEGIN IMMEDIATE``.
IMMEDIATE = "reaper_immediate"


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL; ``None`` for other databases and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _prepare_sqlite_file(path: str) -> None:
    # The store holds plans and the audit trail: create it private.
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)


def _sqlite_engine(url: str, connect_timeout: int) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
    engine = create_engine(
        url,
        connect_args={"timeout": float(connect_timeout), "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from pysqlite; _on_begin below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if path is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(connect_timeout * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        # On the driver's cursor: every write transaction starts here (``driver.py``).
        driver.execute(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgresql_engine(url: str, connect_timeout: int) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": connect_timeout, "application_name": "reaper"},
    )


#: The backends MySQL's dialect serves (SQLAlchemy names MariaDB URLs ``mariadb``).
MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})

#: ``sql_mode`` of every MySQL session: strict, and ANSI quotes off (the default).
MYSQL_SQL_MODE = "TRADITIONAL,NO_ENGINE_SUBSTITUTION"


def mysql_url(url: str) -> URL:
    """``url`` with PyMySQL as its driver when it names none (``mysql://``, ``mariadb://``)."""
    parsed = make_url(url)
    if parsed.drivername in MYSQL_BACKENDS:
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    return parsed


def _mysql_engine(url: str, connect_timeout: int) -> Engine:
    return create_engine(
        mysql_url(url),
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args={
            "connect_timeout": connect_timeout,
            "charset": "utf8mb4",
            "init_command": f"SET SESSION sql_mode = '{MYSQL_SQL_MODE}'",
        },
    )


def create(url: str, *, connect_timeout: int = 10) -> Engine:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, connect_timeout)
    if backend == "postgresql":
        return _postgresql_engine(url, connect_timeout)
    if backend in MYSQL_BACKENDS:
        return _mysql_engine(url, connect_timeout)
    raise ValueError(
        f"unsupported database {backend!r}: reaper supports sqlite, postgresql and mysql "
        "(MySQL 8, MariaDB 10.6 and later)"
    )
