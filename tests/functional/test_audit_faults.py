"""A database that goes away mid-append: a clear error, and a chain still whole."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, event, text

from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditTarget, RecordDraft
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.store import Store, StoreUnavailable
from reaper.store.engine import sqlite_path
from tests.functional.store_fixtures import raw_engine

pytestmark = pytest.mark.functional


def drafts(trail: AuditTrail, n: int, tag: str) -> list[RecordDraft]:
    return [
        trail.draft(action="delete", outcome="success", target=AuditTarget("x.y", f"{tag}-{i}"))
        for i in range(n)
    ]


def make_trail(store: Store) -> AuditTrail:
    return AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))


def terminate(admin: Engine, pid: int) -> None:
    """pg_terminate_backend from another connection, and wait until the backend is gone."""
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if not alive:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} did not terminate")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = Store.open(pg_url)
    yield store
    store.close()


@pytest.fixture
def admin(pg_url: str) -> Iterator[Engine]:
    engine = raw_engine(pg_url)
    yield engine
    engine.dispose()


def kill_backend_on(store: Store, admin: Engine, hook: str, when: Callable[[str], bool]) -> None:
    """Terminate the store's own backend, once, at ``hook`` when ``when(statement)``."""
    fired = threading.Event()

    def backend_pid(conn: object) -> int:
        return conn.connection.dbapi_connection.get_backend_pid()  # type: ignore[attr-defined]

    if hook == "before_cursor_execute":

        def on_execute(conn: object, _c: object, statement: str, *_: object) -> None:
            if not fired.is_set() and when(statement):
                fired.set()
                terminate(admin, backend_pid(conn))

        event.listen(store.db.engine, "before_cursor_execute", on_execute)
    else:

        def on_commit(conn: object) -> None:
            if not fired.is_set():
                fired.set()
                terminate(admin, backend_pid(conn))

        event.listen(store.db.engine, "commit", on_commit)


def test_a_backend_killed_before_the_insert_loses_the_whole_batch_and_says_so(
    pg_store: Store, admin: Engine
) -> None:
    trail = make_trail(pg_store)
    trail.append_many(drafts(trail, 5, "before"))
    kill_backend_on(
        pg_store, admin, "before_cursor_execute", lambda sql: "INSERT INTO audit_records" in sql
    )

    with pytest.raises(StoreUnavailable) as caught:
        trail.append_many(drafts(trail, 50, "lost"))

    assert "append audit records" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not caught.value.commit_unknown
    assert AuditRepository(pg_store.db).head().seq == 5
    after = trail.append_many(drafts(trail, 3, "after"))
    assert [r.seq for r in after] == [6, 7, 8]
    report = verify_store(AuditRepository(pg_store.db))
    assert report.ok, report.problems


def test_a_backend_killed_at_commit_leaves_the_batch_all_or_nothing(
    pg_store: Store, admin: Engine
) -> None:
    trail = make_trail(pg_store)
    trail.append_many(drafts(trail, 5, "before"))
    kill_backend_on(pg_store, admin, "commit", lambda _: True)

    with pytest.raises(StoreUnavailable) as caught:
        trail.append_many(drafts(trail, 50, "maybe"))

    assert caught.value.commit_unknown
    assert "whether the transaction landed is unknown" in str(caught.value)
    assert AuditRepository(pg_store.db).head().seq in (5, 55)
    trail.append_many(drafts(trail, 2, "after"))
    report = verify_store(AuditRepository(pg_store.db))
    assert report.ok, report.problems


def test_a_backend_terminated_by_an_operator_during_a_large_batch(
    pg_store: Store, admin: Engine
) -> None:
    """No hook: another session kills whatever reaper is doing, whenever it sees it."""
    trail = make_trail(pg_store)
    trail.append_many(drafts(trail, 3, "before"))
    batch = drafts(trail, 20_000, "big")
    outcome: list[BaseException | None] = []

    def append() -> None:
        try:
            trail.append_many(batch)
            outcome.append(None)
        except BaseException as exc:  # inspected below
            outcome.append(exc)

    worker = threading.Thread(target=append)
    worker.start()
    with admin.connect() as conn:
        while worker.is_alive():
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'reaper' "
                    "AND datname = current_database() AND state <> 'idle'"
                )
            ).scalars()
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            time.sleep(0.005)
    worker.join()

    error = outcome[0]
    if error is not None:
        assert isinstance(error, StoreUnavailable), error
        assert "append audit records" in str(error)
    # However the race went, the batch is entirely there or entirely absent.
    assert AuditRepository(pg_store.db).head().seq in (3, 20_003)
    trail.append_many(drafts(trail, 2, "after"))
    report = verify_store(AuditRepository(pg_store.db))
    assert report.ok, report.problems


def test_a_locked_embedded_database_is_unavailable_not_corrupted(sqlite_url: str) -> None:
    store = Store.open(sqlite_url, connect_timeout=1)
    trail = make_trail(store)
    trail.append_many(drafts(trail, 4, "before"))
    path = sqlite_path(sqlite_url)
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            trail.append_many(drafts(trail, 10, "blocked"))
    finally:
        other.execute("ROLLBACK")
        other.close()

    trail.append_many(drafts(trail, 2, "after"))
    assert AuditRepository(store.db).head().seq == 6
    assert verify_store(AuditRepository(store.db)).ok
    store.close()
