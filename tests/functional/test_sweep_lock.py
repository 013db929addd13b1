"""The sweep runs on one controller at a time: a leased row, on every shared database.

The lease is a row of ``budget_slots`` renewed while the sweep runs and
before each write, so it needs no session of its own: killed connections,
``idle_in_transaction_session_timeout`` and transaction poolers do not end
it. A holder whose lease ran out and was taken over finds out and stops,
never sweeping beside another controller.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text, update
from structlog.testing import capture_logs

from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep
from reaper.cleanup.settings import Settings
from reaper.model import utcnow
from reaper.store import Store
from reaper.store.schema import budget_slots
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


def kill_connections(store: Store) -> int:
    """End every session of the store's database, as a DBA, a failover or a pooler does."""
    engine = create_engine(store.db.engine.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if store.db.is_postgresql:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        else:
            ids = conn.execute(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            ).scalars()
            killed = 0
            for session in list(ids):
                conn.execute(text(f"KILL {int(session)}"))
                killed += 1
    engine.dispose()
    return int(killed)


def test_a_stalled_holder_whose_lease_ran_out_finds_out_and_another_may_sweep(
    two_controllers: tuple[Store, Store],
) -> None:
    one, two = two_controllers
    # No renewals (the keep-alive sleeps for ever): the holder is stalled past its lease.
    with capture_logs() as logs, sweep.exclusive(one, keepalive=3600, lease=0.5) as first:
        assert first
        with sweep.exclusive(two) as early:
            assert not early, "a live lease is nobody else's"
        time.sleep(0.8)
        with sweep.exclusive(two) as second:
            assert second, "a lease that ran out may be taken over"
            with pytest.raises(sweep.LockLost, match="lost"):
                first.ensure()
            first.release()  # the stalled holder lets go: fenced, the new lease stays
            second.ensure()
            with sweep.exclusive(one) as third:
                assert not third
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "sweep lock lost: this controller's sweep stops"
    ]


def test_the_lease_outlives_its_holders_connections(two_controllers: tuple[Store, Store]) -> None:
    """A session lock ended with its session: a failover or a pooler freed it behind the holder."""
    one, two = two_controllers
    with sweep.exclusive(one, keepalive=0.1) as first:
        assert first
        assert kill_connections(one) >= 1
        time.sleep(0.3)  # renewals go on through new connections
        first.ensure()
        assert not first.lost.is_set()
        with sweep.exclusive(two) as second:
            assert not second


@pytest.fixture
def strict_pg(pg_databases: PgDatabases, pg_url: str) -> str:
    """The test's PostgreSQL database ends any session idle in a transaction for 300 ms."""
    name = make_url(pg_url).database
    with pg_databases.admin.connect() as conn:
        conn.execute(
            text(f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '300ms'")
        )
    return pg_url


def test_the_lock_outlives_idle_in_transaction_session_timeout(strict_pg: str) -> None:
    """It was once held in an open transaction: the server ended it 300 ms into the sweep."""
    one, two = Store.open(strict_pg), Store.open(strict_pg)
    try:
        with sweep.exclusive(one, keepalive=0.1) as first:
            assert first
            time.sleep(1.5)
            with sweep.exclusive(two) as second:
                assert not second
            first.ensure()
            assert not first.lost.is_set()
    finally:
        one.close()
        two.close()


def take_over(store: Store) -> None:
    """Another controller holds the sweep's lease now (as after this one stalled past it)."""
    with store.db.write("take the sweep lease over") as conn:
        conn.execute(
            update(budget_slots)
            .where(budget_slots.c.service == sweep.LOCK_NAME)
            .values(holder="elsewhere:1:other", expires_at=utcnow() + dt.timedelta(hours=1))
        )


def test_a_sweep_that_loses_its_lock_stops_and_opens_nothing(pg_url: str) -> None:
    """What the sweep found while another controller may have taken over is not acted on."""
    store = Store.open(pg_url)
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
    cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id=ORPHAN.id)])

    def lose_the_lock_then_list() -> FakeCloud:
        take_over(store)
        return cloud.seams()

    sweeper = sweep.Sweeper(Settings(), store=store, trail=trail, cloud=lose_the_lock_then_list)
    with capture_logs() as logs:
        assert sweeper.sweep_once() == 0
    assert store.tombstones.find(ORPHAN) is None
    assert "sweep stopped: its lock was lost" in [e["event"] for e in logs]
    store.close()
