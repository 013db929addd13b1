"""Holding a batch while the store is down: the backoff, the release, one log line per change."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from reaper import config
from reaper.events.outage import Backoff, Holder, Outage, Released, persist_holding
from reaper.store import StoreError, StoreUnavailable


def failing(times: int, error: Exception | None = None) -> Callable[[], str]:
    """A record() the store refuses ``times`` times, then takes."""
    calls = {"n": 0}

    def record() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error or StoreUnavailable("record notifications: the database is unavailable")
        return "handled"

    record.calls = calls  # type: ignore[attr-defined]
    return record


FAST = Backoff(initial=0.001, maximum=0.002, hold_limit=0.0)


def test_a_batch_is_held_until_the_store_takes_it() -> None:
    record = failing(5)
    released = threading.Event()

    result = persist_holding(record, 3, backoff=FAST, outage=Outage(), released=released)

    assert result == "handled"
    assert record.calls["n"] == 6  # type: ignore[attr-defined]


def test_waits_double_up_to_the_maximum() -> None:
    slept: list[float] = []
    released = threading.Event()
    holder = Holder(Backoff(initial=1.0, maximum=4.0, hold_limit=0.0))
    record = failing(5)

    def wait(seconds: float | None = None) -> bool:
        slept.append(seconds or 0.0)
        return False

    released.wait = wait  # type: ignore[method-assign]
    persist_holding(record, 1, backoff=holder.backoff, outage=Outage(), released=released)  # type: ignore[arg-type]

    assert slept == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_release_gives_the_batch_back_at_once() -> None:
    released = threading.Event()
    slow = Backoff(initial=60.0, maximum=60.0, hold_limit=0.0)
    threading.Timer(0.05, released.set).start()

    with pytest.raises(Released):
        persist_holding(failing(10**6), 1, backoff=slow, outage=Outage(), released=released)


def test_past_the_hold_limit_the_store_error_is_raised_for_a_requeue() -> None:
    limited = Backoff(initial=0.001, maximum=0.002, hold_limit=0.05)

    with pytest.raises(StoreUnavailable):
        persist_holding(
            failing(10**6), 1, backoff=limited, outage=Outage(), released=threading.Event()
        )


def test_other_store_errors_are_not_held() -> None:
    record = failing(1, StoreError("a constraint"))

    with pytest.raises(StoreError):
        persist_holding(record, 1, backoff=FAST, outage=Outage(), released=threading.Event())
    assert record.calls["n"] == 1  # type: ignore[attr-defined]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    now = [100.0]
    outage = Outage(clock=lambda: now[0])
    error = StoreUnavailable("down")

    with capture_logs() as logs:
        outage.hold(4, error)
        outage.hold(2, error)
        outage.let_go(4, recorded=False)  # requeued: still down
        outage.hold(4, error)
        now[0] = 130.0
        outage.let_go(2, recorded=True)
        outage.let_go(4, recorded=True)

    assert [(e["log_level"], e["event"]) for e in logs] == [
        ("error", "store unavailable: notifications held until it is back"),
        ("warning", "store back: held notifications recorded"),
    ]
    assert (logs[1]["down_for"], logs[1]["held"], logs[1]["still_waiting"]) == (30.0, 10, 4)
    assert outage.since is None and outage.waiting == 0


def test_a_released_holder_gives_back_at_once_while_the_store_is_known_down() -> None:
    holder = Holder(FAST)
    holder.outage.hold(1, StoreUnavailable("down"))
    holder.release()
    record = failing(0)

    with pytest.raises(Released):
        holder.record(1, record)
    assert record.calls["n"] == 0  # type: ignore[attr-defined]


def test_without_a_backoff_nothing_is_held() -> None:
    with pytest.raises(StoreUnavailable):
        Holder(None).record(1, failing(1))


def test_the_backoff_is_read_from_the_listener_group() -> None:
    conf = config.make_conf([], config_files=[])
    assert Backoff.from_conf(conf) == Backoff(initial=1.0, maximum=30.0, hold_limit=900.0)
    conf.set_override("store_retry_max", 0.5, group="listener")
    assert Backoff.from_conf(conf).maximum == 1.0  # never below the first wait
