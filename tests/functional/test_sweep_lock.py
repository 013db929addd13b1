"""The sweep runs on one controller at a time: a database lock, on every shared database.

The lock is a session lock on a connection of its own in autocommit, so it
never sits "idle in transaction" (which ``idle_in_transaction_session_timeout``
or a transaction pooler ends, releasing it behind the holder's back), kept
alive and checked while the sweep runs: a holder whose lock connection is
killed finds out and stops, never sweeping beside another controller.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from structlog.testing import capture_logs

from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep
from reaper.cleanup.settings import Settings
from reaper.store import Store
from tests.functional.store_fixtures import PgDatabases
from tests.unit.cleanup.fakes import FakeCloud, Keystone
from tests.unit.cleanup.test_sweep import ORPHAN, cloud_with, obj

pytestmark = pytest.mark.functional


@pytest.fixture(params=["postgresql", "mysql"])
def two_controllers(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as two controllers on two hosts have."""
    fixture = {"postgresql": "pg_url", "mysql": "mysql_url"}[request.param]
    url = str(request.getfixturevalue(fixture))
    one, two = Store.open(url), Store.open(url)
    yield one, two
    one.close()
    two.close()


def test_only_one_controller_sweeps_at_a_time(two_controllers: tuple[Store, Store]) -> None:
    one, two = two_controllers

    with sweep.exclusive(one) as first, sweep.exclusive(two) as second:
        assert (bool(first), bool(second)) == (True, False)


def test_the_next_sweep_may_run_anywhere_once_the_last_one_ended(
    two_controllers: tuple[Store, Store],
) -> None:
    one, two = two_controllers
    with sweep.exclusive(one) as first:
        assert first

    with sweep.exclusive(two) as second, sweep.exclusive(one) as again:
        assert (bool(second), bool(again)) == (True, False)


def kill(store: Store, session: int) -> None:
    """End the lock's database session from outside, as a DBA, a failover or a pooler does."""
    engine = create_engine(store.db.engine.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if store.db.is_postgresql:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": session})
        else:
            conn.execute(text(f"KILL {int(session)}"))
    engine.dispose()


def test_a_holder_whose_lock_session_is_killed_finds_out_and_another_may_sweep(
    two_controllers: tuple[Store, Store],
) -> None:
    one, two = two_controllers
    with capture_logs() as logs, sweep.exclusive(one, keepalive=0.1) as first:
        assert first and first.session is not None
        kill(one, first.session)

        assert first.lost.wait(5), "the keep-alive did not notice"
        with pytest.raises(sweep.LockLost, match="lost"):
            first.ensure()
        with sweep.exclusive(two) as second:
            assert second
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "sweep lock lost: this controller's sweep stops"
    ]


@pytest.fixture
def strict_pg(pg_databases: PgDatabases, pg_url: str) -> str:
    """The test's PostgreSQL database ends any session idle in a transaction for 300 ms."""
    name = make_url(pg_url).database
    with pg_databases.admin.connect() as conn:
        conn.execute(
            text(f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '300ms'")
        )
    return pg_url


def holders(store: Store) -> list[tuple[int, str]]:
    """The sessions holding an advisory lock in the store's database, and their state."""
    engine = create_engine(store.db.engine.url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            )
        ).all()
    engine.dispose()
    return [(int(pid), str(state)) for pid, state in rows]


def test_the_lock_outlives_idle_in_transaction_session_timeout(strict_pg: str) -> None:
    """It used to be held in an open transaction: the server ended it 300 ms into the sweep."""
    one, two = Store.open(strict_pg), Store.open(strict_pg)
    try:
        with sweep.exclusive(one, keepalive=0.1) as first:
            assert first
            time.sleep(1.5)
            (holder,) = holders(one)
            assert holder[1] == "idle", holder
            with sweep.exclusive(two) as second:
                assert not second
            first.ensure()
            assert not first.lost.is_set()
    finally:
        one.close()
        two.close()


def test_a_sweep_that_loses_its_lock_stops_and_opens_nothing(pg_url: str) -> None:
    """What the sweep found while another controller may have taken over is not acted on."""
    store = Store.open(pg_url)
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
    cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id=ORPHAN.id)])

    def lose_the_lock_then_list() -> FakeCloud:
        (holder,) = holders(store)
        kill(store, holder[0])
        return cloud.seams()

    sweeper = sweep.Sweeper(Settings(), store=store, trail=trail, cloud=lose_the_lock_then_list)
    with capture_logs() as logs:
        assert sweeper.sweep_once() == 0
    assert store.tombstones.find(ORPHAN) is None
    assert "sweep stopped: its lock was lost" in [e["event"] for e in logs]
    store.close()
