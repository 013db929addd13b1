"""Statements on the driver's cursor: in the transaction, errors as SQLAlchemy raises them."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from reaper.store import Store, StoreError, driver

pytestmark = pytest.mark.functional

INSERT = {
    "sqlite": "INSERT INTO driver_probe (id, name) VALUES (?, ?)",
    "other": "INSERT INTO driver_probe (id, name) VALUES (%s, %s)",
}


def _insert(store: Store) -> str:
    return INSERT["sqlite" if store.db.is_sqlite else "other"]


@pytest.fixture
def probe(store: Store) -> Store:
    with store.db.write("make a probe table") as conn:
        conn.execute(text("CREATE TABLE driver_probe (id INTEGER PRIMARY KEY, name TEXT)"))
    return store


def names(store: Store) -> list[tuple[int, str]]:
    with store.db.read("read the probe") as conn:
        rows = conn.execute(text("SELECT id, name FROM driver_probe ORDER BY id"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_rows_written_and_read_in_the_callers_transaction(probe: Store) -> None:
    with probe.db.write("write") as conn:
        assert driver.executemany(conn, _insert(probe), [(1, "a"), (2, "b"), (3, "c")]) == 3
        found = driver.execute(conn, "SELECT name FROM driver_probe WHERE id = 2")
        assert [tuple(r) for r in found] == [("b",)]
        assert driver.execute(conn, "UPDATE driver_probe SET name = 'z' WHERE id = 3") == []
    assert names(probe) == [(1, "a"), (2, "b"), (3, "z")]


def test_what_a_failed_transaction_wrote_on_the_cursor_is_rolled_back(probe: Store) -> None:
    with pytest.raises(RuntimeError), probe.db.write("write, then fail") as conn:
        driver.executemany(conn, _insert(probe), [(1, "a")])
        raise RuntimeError("the caller fails after the statement")
    assert names(probe) == []


def test_a_refused_row_is_sqlalchemys_integrity_error_and_the_stores_error(probe: Store) -> None:
    with probe.db.write("one row") as conn:
        driver.executemany(conn, _insert(probe), [(1, "a")])
    with pytest.raises(sa_exc.IntegrityError), probe.db.engine.begin() as conn:
        driver.executemany(conn, _insert(probe), [(2, "b"), (1, "again")])
    with pytest.raises(StoreError) as caught, probe.db.write("a duplicate key") as conn:
        driver.executemany(conn, _insert(probe), [(1, "again")])
    assert "a duplicate key" in str(caught.value)
    assert names(probe) == [(1, "a")]


def test_a_statement_the_database_cannot_run_is_a_store_error(probe: Store) -> None:
    with pytest.raises(StoreError, match="a bad table"), probe.db.write("a bad table") as conn:
        driver.execute(conn, "SELECT name FROM no_such_table_here")
