"""Schema upgrades, run by the store itself when it is opened.

Operators never run a migration tool: opening the store brings the schema to
the version this reaper needs, so a package upgrade is all an upgrade is.
Several controllers may start at once, so the upgrade runs under a lock
(a PostgreSQL advisory lock, SQLite's write lock, MySQL's ``GET_LOCK``)
inside one transaction: on PostgreSQL and SQLite DDL is transactional, and a
failed upgrade leaves the previous schema intact. MySQL commits each DDL
statement by itself, so there an upgrade that fails midway leaves the
revisions before it applied and is finished by the next start. Revisions only
ever add (an upgrade never loses data) and are never downgraded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from reaper import log
from reaper.store.database import Database
from reaper.store.errors import SchemaError, StoreUnavailable

LOG = log.get(__name__)

#: pg_advisory_xact_lock key: "reaper" in ASCII, so it cannot collide by accident.
MIGRATION_LOCK = 0x726561706572

#: MySQL's named lock for upgrades (GET_LOCK names are server-wide: prefixed).
MYSQL_MIGRATION_LOCK = "reaper.store.migrate"

#: Seconds a starting controller waits for another's upgrade on MySQL.
MYSQL_LOCK_TIMEOUT = 600


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "reaper.store:migrations")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"reaper's migrations have {len(heads)} heads; expected one")
    return heads[0]


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    script = ScriptDirectory.from_config(_config())
    try:
        script.get_revision(revision)
    except CommandError as exc:
        raise SchemaError(
            f"the database schema is at revision {revision}, which this reaper does not "
            "know: it was created by a newer reaper; upgrade reaper instead"
        ) from exc


def upgrade(db: Database) -> None:
    """Bring the schema to :func:`head_revision`; a no-op when it is there."""
    target = head_revision()
    with db.read("read the schema version") as conn:
        current = current_revision(conn)
    _check_known(current)
    if current == target:
        return
    with db.write("upgrade the schema") as conn, _mysql_lock(db, conn):
        if db.is_postgresql:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        # Another process may have upgraded while we waited for the lock.
        current = current_revision(conn)
        _check_known(current)
        if current == target:
            return
        LOG.info("upgrading store schema", url=db.safe_url, current=current, target=target)
        command.upgrade(_config(conn), "head")


@contextlib.contextmanager
def _mysql_lock(db: Database, conn: Connection) -> Iterator[None]:
    """MySQL's upgrade lock, held by ``conn``'s session (a no-op elsewhere).

    A named lock belongs to the session, not the transaction: released
    explicitly, or the pooled connection would keep holding it.
    """
    if not db.is_mysql:
        yield
        return
    got = conn.execute(
        text("SELECT GET_LOCK(:name, :timeout)"),
        {"name": MYSQL_MIGRATION_LOCK, "timeout": MYSQL_LOCK_TIMEOUT},
    ).scalar()
    if got != 1:
        raise StoreUnavailable(
            f"upgrade the schema: another reaper held the upgrade lock for "
            f"{MYSQL_LOCK_TIMEOUT} s; nothing was changed"
        )
    try:
        yield
    finally:
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MYSQL_MIGRATION_LOCK})
