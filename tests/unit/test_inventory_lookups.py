"""Follow-up lookups go together, answer in the order asked, and keep each error to its job."""

from __future__ import annotations

import threading

import pytest

from reaper.inventory.lookups import Answer, run_all


def test_the_answers_come_in_the_order_of_the_jobs_whatever_order_they_end_in() -> None:
    last_may_end = threading.Event()

    def first() -> str:
        assert last_may_end.wait(5)
        return "first"

    def last() -> str:
        last_may_end.set()
        return "last"

    assert [a.value for a in run_all([first, last])] == ["first", "last"]


def test_independent_jobs_are_in_flight_together() -> None:
    """Each job waits for all the others: one after another, none could ever pass."""
    together = threading.Barrier(5, timeout=5)
    answers = run_all([together.wait for _ in range(5)])
    assert [a.error for a in answers] == [None] * 5


def test_no_more_jobs_than_the_workers_are_in_flight_at_once() -> None:
    lock, now, peak = threading.Lock(), [0], [0]
    two_in = threading.Barrier(2, timeout=5)

    def job() -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        two_in.wait()
        with lock:
            now[0] -= 1

    assert all(a.error is None for a in run_all([job] * 6, workers=2))
    assert peak[0] == 2


def test_an_error_is_its_own_jobs_answer_and_the_others_still_answer() -> None:
    def broken() -> str:
        raise RuntimeError("neutron down")

    first, second, third = run_all([lambda: "a", broken, lambda: "c"])
    assert (first, third) == (Answer(value="a"), Answer(value="c"))
    assert isinstance(second.error, RuntimeError) and second.value is None


@pytest.mark.parametrize("jobs", [0, 1])
def test_nothing_or_one_job_runs_on_the_callers_thread(jobs: int) -> None:
    caller = threading.current_thread()
    answers = run_all([threading.current_thread] * jobs)
    assert [a.value for a in answers] == [caller] * jobs
