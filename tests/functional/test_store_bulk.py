"""BulkInsert writes exactly what SQLAlchemy's executemany writes, on every database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, select

from reaper.store import Store, StoreError, schema
from reaper.store.bulk import BulkInsert

pytestmark = pytest.mark.functional

T = schema.tombstones
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
#: The same instant in another zone, and naive (stored as UTC): one value once bound.
T0_PLUS_ONE = T0.astimezone(dt.timezone(dt.timedelta(hours=1)))


def row(n: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "kind": "project",
        "identity_id": f"{n:032x}",
        "state": "received",
        "reason": "",
        "plan_hash": None,
        "attempts": n % 3,
        "next_attempt_at": None if n % 2 else T0 + dt.timedelta(seconds=n),
        "claimed_by": None,
        "claimed_at": None,
        "created_at": T0_PLUS_ONE if n % 2 else T0,
        "updated_at": T0.replace(tzinfo=None),
    }
    values.update(overrides)
    return values


def stored(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    with store.db.read("read back") as conn:
        found = conn.execute(select(T).where(T.c.id.in_(ids)).order_by(T.c.id)).all()
    return [tuple(r) for r in found]


def test_rows_read_back_as_sqlalchemys_own_executemany_writes_them(store: Store) -> None:
    ours = [row(n) for n in range(1, 6)]
    theirs = [
        row(n, id=f"10000000-0000-0000-0000-{n:012d}", identity_id=f"{n:031x}f")
        for n in range(1, 6)
    ]
    # Column order of the dicts need not be the table's.
    ours = [dict(reversed(list(r.items()))) for r in ours]
    with store.db.write("insert both ways") as conn:
        assert BulkInsert(insert(T)).execute(conn, ours) == 5
        conn.execute(insert(T), theirs)
    mine = stored(store, [r["id"] for r in ours])
    reference = stored(store, [r["id"] for r in theirs])
    assert len(mine) == 5
    # Same values but for the ids and identity ids the two sets differ by.
    assert [r[3:] for r in mine] == [r[3:] for r in reference]
    assert mine[0][-1] == T0  # read back aware, in UTC


def test_a_conflict_is_skipped_and_not_counted(store: Store) -> None:
    with store.db.write("first") as conn:
        assert store.db.insert_ignore(conn, T, [row(1), row(2)], ("kind", "identity_id")) == 2
    with store.db.write("again") as conn:
        again = [row(1, id="00000000-0000-0000-0000-000000000099"), row(3)]
        assert store.db.insert_ignore(conn, T, again, ("kind", "identity_id")) == 1
    assert len(stored(store, [row(n)["id"] for n in (1, 2, 3)])) == 3
    assert stored(store, ["00000000-0000-0000-0000-000000000099"]) == []


def test_nothing_to_insert_is_no_statement(store: Store) -> None:
    with store.db.write("nothing") as conn:
        assert BulkInsert(insert(T)).execute(conn, []) == 0


def test_a_row_the_table_refuses_fails_the_whole_insert(store: Store) -> None:
    """NOT NULL broken: an error on every database (MySQL's INSERT IGNORE only warns)."""
    with pytest.raises(StoreError), store.db.write("a row without a kind") as conn:
        store.db.insert_ignore(conn, T, [row(1), row(2, kind=None)], ("kind", "identity_id"))
    assert stored(store, [row(n)["id"] for n in (1, 2)]) == []


def test_a_large_batch_with_known_rows_counts_only_the_new_ones(store: Store) -> None:
    first = [row(n) for n in range(1, 601)]
    with store.db.write("many rows") as conn:
        assert store.db.insert_ignore(conn, T, first, ("kind", "identity_id")) == 600
    again = [row(n, id=f"20000000-0000-0000-0000-{n:012d}") for n in range(301, 901)]
    with store.db.write("half of them known") as conn:
        assert store.db.insert_ignore(conn, T, again, ("kind", "identity_id")) == 300
    mine = stored(store, [r["id"] for r in first + again])
    assert len(mine) == 900
    assert mine[0][4:] == stored(store, [first[0]["id"]])[0][4:]
