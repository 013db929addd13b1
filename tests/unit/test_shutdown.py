"""The controller's stop deadline (reaper/shutdown.py): counted from the signal, never missed."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest

from reaper import shutdown


class FakeTimer:
    """Records what a threading.Timer would have been asked to do."""

    made: ClassVar[list[FakeTimer]] = []

    def __init__(self, interval: float, function: Any, args: tuple[Any, ...] = ()) -> None:
        self.interval, self.function, self.args = interval, function, args
        self.daemon = False
        self.started = False
        FakeTimer.made.append(self)

    def start(self) -> None:
        self.started = True


@pytest.fixture(autouse=True)
def _fresh_timers() -> None:
    FakeTimer.made = []


@pytest.mark.parametrize(
    ("grace", "fires_at"),
    [(10.0, 9.0), (5.0, 4.5), (30.0, 29.0), (1.0, 0.9), (0.0, 0.0)],
)
def test_the_watchdog_keeps_a_tenth_of_the_grace_and_at_most_a_second_for_the_exit(
    grace: float, fires_at: float
) -> None:
    assert shutdown.deadline(grace) == pytest.approx(fires_at)


def test_arming_starts_one_daemon_timer_that_exits_with_the_grace() -> None:
    expired: list[float] = []
    dog = shutdown.Watchdog(5.0, on_expiry=expired.append, timer=FakeTimer)

    assert not dog.armed
    dog.arm()

    (timer,) = FakeTimer.made
    assert timer.started and timer.daemon
    assert timer.interval == pytest.approx(4.5)
    timer.function(*timer.args)
    assert expired == [5.0]


def test_a_second_signal_and_the_main_loops_finally_keep_the_first_deadline() -> None:
    dog = shutdown.Watchdog(5.0, on_expiry=lambda grace: None, timer=FakeTimer)

    dog.arm()
    dog.arm()
    dog.arm()

    assert len(FakeTimer.made) == 1


def test_a_real_timer_fires_on_its_own_thread() -> None:
    fired = threading.Event()
    dog = shutdown.Watchdog(0.05, on_expiry=lambda grace: fired.set())

    dog.arm()

    assert fired.wait(5)
