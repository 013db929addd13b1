"""Opening the store creates or upgrades its schema, and never loses data."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from reaper.audit.columns import parse_cadf_time
from reaper.audit.repository import AuditRepository
from reaper.model import IdentityKind, IdentityRef, Trigger, TriggerSource
from reaper.store import SchemaError, Store, StoreUnavailable, migrate
from reaper.store.schema import AUDIT_STREAMS, metadata
from tests.functional.store_fixtures import raw_engine
from tests.unit.audit.helpers import draft

pytestmark = pytest.mark.functional

PROJECT = IdentityRef(IdentityKind.PROJECT, "0123456789abcdef0123456789abcdef")


def test_opening_an_empty_database_creates_exactly_the_declared_schema(fresh_url: str) -> None:
    Store.open(fresh_url).close()

    engine = raw_engine(fresh_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == migrate.head_revision()
    finally:
        engine.dispose()


def test_reopening_keeps_every_row(fresh_url: str) -> None:
    with Store.open(fresh_url) as store:
        store.tombstones.record_trigger(PROJECT, Trigger(TriggerSource.CLI))
        AuditRepository(store.db).append([draft(1), draft(2)])

    with Store.open(fresh_url) as store:
        assert store.tombstones.find(PROJECT) is not None
        assert AuditRepository(store.db).head().seq == 2
        assert AuditRepository(store.db).count() == 2


def test_the_audit_time_index_is_a_block_range_index_on_postgresql(fresh_pg_url: str) -> None:
    """0009: a few kilobytes for the whole trail instead of 27 bytes a record."""
    with Store.open(fresh_pg_url) as store:
        drafts = [draft(i) for i in range(1, 51)]
        AuditRepository(store.db).append(drafts)
        since = [d.index.recorded_at for d in drafts][40]
        found = list(AuditRepository(store.db).find(since=parse_cadf_time(since)))
    engine = raw_engine(fresh_pg_url)
    with engine.connect() as conn:
        method = conn.execute(
            text(
                "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                "WHERE c.relname = 'ix_audit_records_recorded_at'"
            )
        ).scalar_one()
    engine.dispose()

    assert method == "brin"
    assert [r.seq for r in found] == list(range(41, 51))


def test_the_chain_head_starts_at_genesis(fresh_url: str) -> None:
    with Store.open(fresh_url) as store:
        head = AuditRepository(store.db).head()

    assert (head.seq, head.head) == (0, "0" * 64)


def test_a_schema_written_by_a_newer_reaper_is_refused_not_touched(fresh_url: str) -> None:
    Store.open(fresh_url).close()
    engine = raw_engine(fresh_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()

    with pytest.raises(SchemaError, match="newer reaper"):
        Store.open(fresh_url)


def test_controllers_starting_together_migrate_once(fresh_url: str) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store.open(fresh_url).close()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    engine = raw_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert (
                conn.execute(text("SELECT count(*) FROM audit_chain_head")).scalar()
                == AUDIT_STREAMS
            )
    finally:
        engine.dispose()


def test_the_embedded_store_is_created_private_in_wal_mode(tmp_path: object) -> None:
    path = f"{tmp_path}/deep/state/dir/reaper.sqlite"

    Store.open(f"sqlite:///{path}").close()

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    engine = raw_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_an_unreachable_database_is_reported_as_unavailable() -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:9/reaper"

    with pytest.raises(StoreUnavailable, match="unavailable"):
        Store.open(url, connect_timeout=2)


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mssql'"):
        Store.open("mssql+pyodbc://reaper@localhost/reaper")


def test_a_mysql_url_without_a_driver_means_pymysql(fresh_mysql_url: str) -> None:
    bare = fresh_mysql_url.replace("mysql+pymysql://", "mysql://", 1)

    with Store.open(bare) as store:
        assert store.db.engine.dialect.driver == "pymysql"
        store.tombstones.record_trigger(PROJECT, Trigger(TriggerSource.CLI))


def test_devstacks_utf8_mysql_url_still_gets_four_byte_text_compared_as_bytes(
    fresh_mysql_url: str,
) -> None:
    # DevStack's database_connection_url ends in ?charset=utf8 (three-byte utf8).
    store = Store.open(f"{fresh_mysql_url}?charset=utf8")
    try:
        with store.db.engine.connect() as conn:
            charset = conn.execute(text("SELECT @@character_set_connection")).scalar()
            collations = set(
                conn.execute(
                    text(
                        "SELECT table_collation FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
                    )
                ).scalars()
            )
    finally:
        store.close()

    assert charset == "utf8mb4"
    assert collations == {"utf8mb4_bin"}
