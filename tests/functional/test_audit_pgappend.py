"""Appends on PostgreSQL in two statements (``pgappend.py``): fewer round trips, as safe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from reaper.audit.record import AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.store import Store, StoreError
from tests.functional.audit_fixtures import busy, check, make_trail, rows
from tests.functional.store_fixtures import raw_engine, tamper

pytestmark = pytest.mark.functional


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    opened = Store.open(pg_url)
    yield opened
    opened.close()


def append_one(trail: AuditTrail, label: str) -> None:
    trail.append(action="delete", outcome="success", target=AuditTarget("x.y", label))


def statements_of(store: Store, work: Any) -> list[str]:
    """The statements ``work`` sends through the store's engine (each one round trip)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", seen)
    try:
        work()
    finally:
        event.remove(store.db.engine, "before_cursor_execute", seen)
    return sent


@pytest.mark.parametrize("streams", [1, 4])
def test_an_append_is_two_statements(store: Store, streams: int) -> None:
    # Lock-and-draw, then move-and-insert, between BEGIN and COMMIT (a plain
    # insert's is one). Statement by statement an append was four.
    trail = make_trail(store, streams, signed_by=None)
    append_one(trail, "warm")  # the first append reads the server's version
    sent = statements_of(store, lambda: append_one(trail, "counted"))
    assert len(sent) == 2, sent
    assert "nextval('audit_seq')" in sent[0]
    assert sent[1].startswith("WITH moved AS (UPDATE audit_chain_head")
    assert check(store).ok


def test_every_stream_busy_costs_one_more_statement(store: Store, pg_url: str) -> None:
    trail = make_trail(store, 2, signed_by=None)
    append_one(trail, "warm")
    sent: list[str] = []
    done = threading.Event()

    def waiting_append() -> None:
        sent.extend(statements_of(store, lambda: append_one(trail, "waited")))
        done.set()

    with busy(pg_url, 1, 2):
        worker = threading.Thread(target=waiting_append)
        worker.start()
        assert not done.wait(0.5)  # it waits for its process's own stream
    worker.join(10)
    assert done.is_set()
    assert len(sent) == 3, sent  # no free stream, then wait on one, then write
    report = check(store)
    assert report.ok, report.problems
    assert report.records == 2


def test_a_failed_append_writes_nothing_and_leaves_no_transaction_open(
    store: Store, pg_url: str
) -> None:
    trail = make_trail(store, 1, signed_by=None)
    for label in ("a", "b"):
        append_one(trail, label)
    # Seq 3, the next one, already taken behind reaper's back: the insert fails.
    tamper(
        pg_url,
        "INSERT INTO audit_records (seq, recorded_at, action, outcome, body, record_hash, "
        "prev_head, head) SELECT 3, recorded_at, action, outcome, body, record_hash, "
        "prev_head, head FROM audit_records WHERE seq = 2",
    )
    with pytest.raises(StoreError):
        append_one(trail, "c")

    assert AuditRepository(store.db).head().seq == 2  # the head did not move
    engine = raw_engine(pg_url)
    with engine.connect() as conn:
        stuck = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        ).scalar_one()
    engine.dispose()
    assert stuck == 0
    # The pooled connection is clean: the next append goes on after the squatter.
    tamper(pg_url, "DELETE FROM audit_records WHERE seq = 3")
    append_one(trail, "d")
    assert [r[0] for r in rows(pg_url)] == [1, 2, 3]
    assert check(store).ok
