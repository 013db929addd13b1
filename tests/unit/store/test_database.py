"""How driver errors become the store's errors, and which writes are run again."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from reaper.store import database
from reaper.store.database import retry_conflicts, translate
from reaper.store.errors import Deadlock, StoreError, StoreUnavailable


def mysql_error(errno: int, message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT ...", {}, pymysql.err.OperationalError(errno, message))


def test_a_mysql_deadlock_is_a_conflict_to_run_again() -> None:
    error = translate(mysql_error(1213, "Deadlock found when trying to get lock"), "record")

    assert isinstance(error, Deadlock)
    assert isinstance(error, StoreUnavailable)  # callers that retry later still do
    assert "nothing was written" in str(error)


def test_a_refusal_by_a_mysql_trigger_is_not_the_database_going_away() -> None:
    refused = mysql_error(1644, "reaper: UPDATE on audit_records is refused")

    error = translate(refused, "append")

    assert type(error) is StoreError
    assert "refused" in str(error)


def test_a_lost_mysql_connection_is_unavailable() -> None:
    error = translate(mysql_error(2013, "Lost connection to MySQL server"), "read")

    assert type(error) is StoreUnavailable


class Writer:
    """A repository method that deadlocks ``failures`` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    @retry_conflicts
    def record(self, value: str, *, conn: Connection | None = None) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise Deadlock("record: deadlock; the database rolled it back, nothing was written")
        return value


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database.time, "sleep", lambda _seconds: None)


def test_a_transaction_rolled_back_by_a_deadlock_runs_again() -> None:
    writer = Writer(failures=3)

    assert writer.record("x") == "x"
    assert writer.calls == 4


def test_deadlocks_that_never_end_are_reported() -> None:
    writer = Writer(failures=1000)

    with pytest.raises(Deadlock):
        writer.record("x")
    assert writer.calls == database.CONFLICT_RETRIES + 1


def test_a_callers_transaction_is_not_run_again_behind_its_back() -> None:
    writer = Writer(failures=1)

    with pytest.raises(Deadlock):
        writer.record("x", conn=object())  # type: ignore[arg-type]
    assert writer.calls == 1
