"""Databases for the store's functional tests: SQLite files, throwaway PostgreSQL and MariaDB.

Each test gets a store of its own. On PostgreSQL that is a database created
for the test from a template migrated once per session (``CREATE DATABASE
... TEMPLATE`` is much faster than migrating each time) and dropped after;
every database of the session shares a unique prefix, so parallel runs and
leftovers of a killed run never collide. The server is the machine's
PostgreSQL (``REAPER_TEST_PG_URL``, default
``postgresql+psycopg2://postgres@127.0.0.1:5432``); when it is unreachable the
PostgreSQL variants are skipped, or fail if ``REAPER_TEST_REQUIRE_PG`` is set.

MySQL/MariaDB works the same way without templates (MySQL has none): each
test's database is migrated when it is created. The server is the machine's
MariaDB (``REAPER_TEST_MYSQL_URL``, default
``mysql+pymysql://root@127.0.0.1:3306``); unreachable, its variants are
skipped, or fail if ``REAPER_TEST_REQUIRE_MYSQL`` is set.

``store`` is parametrized over every database, so one test specifies all.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from reaper.store import Store

#: The fixtures conftest.py re-exports.
__all__ = [
    "fresh_mysql_url",
    "fresh_pg_url",
    "fresh_url",
    "mysql_databases",
    "mysql_url",
    "pg_databases",
    "pg_template",
    "pg_url",
    "sqlite_url",
    "store",
    "store_url",
]

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306"

#: The databases every store test runs on.
DATABASES = ["sqlite", "postgresql", "mysql"]


def pg_server_url() -> URL:
    raw = os.environ.get("REAPER_TEST_PG_URL") or DEFAULT_PG_URL
    url = make_url(raw)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url.set(database="postgres")


class PgDatabases:
    """Creates databases named ``<prefix>_<n>`` and drops them all at the end."""

    def __init__(self, admin: Engine, server: URL) -> None:
        self.admin = admin
        self.server = server
        self.prefix = f"reaper_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._count = 0
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        ddl = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with self.admin.connect() as conn:
            conn.execute(text(ddl))
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.names:
            self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.names)):
            self.drop(name)


def mysql_server_url() -> URL:
    url = make_url(os.environ.get("REAPER_TEST_MYSQL_URL") or DEFAULT_MYSQL_URL)
    if url.drivername in ("mysql", "mariadb"):
        url = url.set(drivername=f"{url.drivername}+pymysql")
    return url.set(database=None)


class MysqlDatabases:
    """Creates MySQL databases named ``<prefix>_<n>`` and drops them all at the end."""

    def __init__(self, admin: Engine, server: URL) -> None:
        self.admin = admin
        self.server = server
        self.prefix = f"reaper_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._count = 0
        self.names: list[str] = []

    def create(self) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        if name in self.names:
            self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.names)):
            self.drop(name)


def _reachable(admin: Engine, patience: float = 20.0) -> OperationalError | None:
    """None once the server accepts a connection; the last error after ``patience`` s.

    The machine's PostgreSQL is shared with the OpenStack testbed, which can
    briefly use up its connections: a busy server is waited for, not skipped.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            with admin.connect():
                return None
        except OperationalError as exc:
            if time.monotonic() > deadline:
                return exc
            time.sleep(1)


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    server = pg_server_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    error = _reachable(admin)
    if error is not None:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {server.render_as_string()}: {error.orig}"
        if os.environ.get("REAPER_TEST_REQUIRE_PG"):
            pytest.fail(message)
        pytest.skip(message)
    databases = PgDatabases(admin, server)
    yield databases
    databases.drop_all()
    admin.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_databases: PgDatabases) -> str:
    """A database migrated to the current schema, to copy for each test."""
    name = pg_databases.create()
    Store.open(pg_databases.url(name)).close()
    return name


@pytest.fixture
def pg_url(pg_databases: PgDatabases, pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    name = pg_databases.create(template=pg_template)
    yield pg_databases.url(name)
    pg_databases.drop(name)


@pytest.fixture
def fresh_pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """An empty PostgreSQL database, never migrated."""
    name = pg_databases.create()
    yield pg_databases.url(name)
    pg_databases.drop(name)


@pytest.fixture(scope="session")
def mysql_databases() -> Iterator[MysqlDatabases]:
    server = mysql_server_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    error = _reachable(admin)
    if error is not None:
        admin.dispose()
        message = f"MySQL is not reachable at {server.render_as_string()}: {error.orig}"
        if os.environ.get("REAPER_TEST_REQUIRE_MYSQL"):
            pytest.fail(message)
        pytest.skip(message)
    databases = MysqlDatabases(admin, server)
    yield databases
    databases.drop_all()
    admin.dispose()


@pytest.fixture
def mysql_url(mysql_databases: MysqlDatabases) -> Iterator[str]:
    """A migrated MySQL database of this test's own."""
    name = mysql_databases.create()
    url = mysql_databases.url(name)
    Store.open(url).close()
    yield url
    mysql_databases.drop(name)


@pytest.fixture
def fresh_mysql_url(mysql_databases: MysqlDatabases) -> Iterator[str]:
    """An empty MySQL database, never migrated."""
    name = mysql_databases.create()
    yield mysql_databases.url(name)
    mysql_databases.drop(name)


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/state/reaper.sqlite"


@pytest.fixture(params=DATABASES)
def store_url(request: pytest.FixtureRequest) -> str:
    """A migrated database URL, once per supported database."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "pg_url", "mysql": "mysql_url"}
    return str(request.getfixturevalue(fixture[request.param]))


@pytest.fixture(params=DATABASES)
def fresh_url(request: pytest.FixtureRequest) -> str:
    """A database URL with nothing in it yet, once per supported database."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "fresh_pg_url", "mysql": "fresh_mysql_url"}
    return str(request.getfixturevalue(fixture[request.param]))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def raw_engine(url: str) -> Engine:
    """A plain autocommit engine, without the store's settings, for work behind its back."""
    return create_engine(url, isolation_level="AUTOCOMMIT")


def tamper(url: str, *statements: str, params: dict[str, object] | None = None) -> None:
    """Run SQL on the audit tables as someone with the database owner's rights would.

    Such a person can switch the append-only triggers off first; the chain
    and the signed checkpoints are what must still catch the change.
    """
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "mysql":
                # Standard SQL, as the statements are written for PostgreSQL and
                # SQLite: || concatenates, double quotes name columns.
                conn.execute(text("SET SESSION sql_mode = 'ANSI,TRADITIONAL'"))
            if engine.dialect.name == "postgresql":
                for table in ("audit_records", "audit_checkpoints"):
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for name in (
                    "audit_records_no_update",
                    "audit_records_no_delete",
                    "audit_checkpoints_no_update",
                    "audit_checkpoints_no_delete",
                ):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            for statement in statements:
                conn.execute(text(statement), params or {})
            if engine.dialect.name == "postgresql":
                for table in ("audit_records", "audit_checkpoints"):
                    conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    finally:
        engine.dispose()
