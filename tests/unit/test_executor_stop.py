"""A stop cuts short the waits between retries: the step is left for the next run.

``interruptible`` is the executor's sleep over the run's stop event; the
scheduler treats a cut-short wait as "not finished": no outcome, so the
tombstone goes back to the next claim instead of failing.
"""

from __future__ import annotations

import threading
import time

import pytest

from reaper.executor import Executor, Interrupted, Transient, interruptible

from .test_executor import FAST, Script, plan_of, step


def test_the_sleep_returns_at_once_when_the_run_is_stopped() -> None:
    stop = threading.Event()
    sleep = interruptible(stop)
    sleep(0.01)  # not stopped: an ordinary sleep
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        sleep(30)
    assert time.monotonic() - started < 5


def test_a_step_waiting_to_retry_when_the_run_stops_has_no_outcome() -> None:
    port = step("network.port", "p")
    other = step("compute.server", "s")
    stop = threading.Event()
    runner = Script({port.id: Transient("HTTP 429", retry_after=30)})
    executor = Executor(runner, limits=FAST, sleep=interruptible(stop))
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    report = executor.execute(plan_of(port, other), stop=stop)
    assert time.monotonic() - started < 5
    assert port.id not in report.outcomes  # neither failed nor done: the next run retries it
    assert report.interrupted
    assert runner.calls[port.id] == 1
