"""A controller is a list of parts: started in order, stopped in reverse, never half stopped."""

from __future__ import annotations

import threading

from reaper import parts
from reaper.store import StoreUnavailable


class Recorder:
    def __init__(self, name: str, log: list[str], *, fail_stop: bool = False) -> None:
        self.name, self.log, self.fail_stop = name, log, fail_stop

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("cannot stop")


def test_parts_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    made = parts.Parts([(n, Recorder(n, log)) for n in ("api", "workers", "listener")])
    made.start()
    made.stop()
    assert log == [
        "start api",
        "start workers",
        "start listener",
        "stop listener",
        "stop workers",
        "stop api",
    ]


def test_a_part_that_fails_to_stop_does_not_keep_the_others_running() -> None:
    log: list[str] = []
    made = parts.Parts(
        [("api", Recorder("api", log)), ("listener", Recorder("listener", log, fail_stop=True))]
    )
    made.start()
    made.stop()
    assert log[-2:] == ["stop listener", "stop api"]


def test_threads_are_named_and_joined() -> None:
    release = threading.Event()
    names: list[str] = []

    def body() -> None:
        names.append(threading.current_thread().name)
        release.wait(5)

    workers = parts.Threads("reaper-worker", body, count=2)
    workers.start()
    release.set()
    workers.stop()
    assert sorted(names) == ["reaper-worker-0", "reaper-worker-1"]
    assert not any(t.is_alive() for t in workers.threads)


class Worker:
    def __init__(self, results: list[object], stopping: threading.Event) -> None:
        self.results, self.stopping, self.calls = results, stopping, 0

    def work_once(self) -> object:
        self.calls += 1
        if not self.results:
            self.stopping.set()
            return None
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def test_the_work_loop_keeps_claiming_while_there_is_work_and_survives_errors() -> None:
    stopping, wake = threading.Event(), threading.Event()
    worker = Worker(["t1", RuntimeError("boom"), "t2"], stopping)
    parts.work_loop(worker, stopping=stopping, wake=wake, poll_interval=0.001)()  # type: ignore[arg-type]
    assert worker.calls == 4  # t1, the error (logged), t2, then nothing: stopping


def test_the_work_loop_backs_off_while_the_store_is_unavailable() -> None:
    stopping, wake = threading.Event(), threading.Event()
    waits: list[float | None] = []
    real_wait = stopping.wait

    def wait(timeout: float | None = None) -> bool:
        waits.append(timeout)
        return real_wait(0)

    stopping.wait = wait  # type: ignore[method-assign]
    worker = Worker([StoreUnavailable("db down")], stopping)
    parts.work_loop(worker, stopping=stopping, wake=wake, poll_interval=2.0)()  # type: ignore[arg-type]
    assert waits == [4.0]
