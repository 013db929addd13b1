"""A run being brought up: its state, saved under a lock, its steps, processes and waits.

Shared by ``lifecycle`` (a whole run) and ``starting`` (optional services started into
a run that is up): several threads bring parts of a run up at once, and the first failure
stops the others (``Aborted``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

from . import processes, services
from .processes import StepFailed
from .state import RunState

STEP_TIMEOUT = 300.0
API_TIMEOUT = 180.0

Progress = Callable[[str], None]


def stderr(message: str) -> None:
    print(f"testbed: {message}", file=sys.stderr, flush=True)


class Aborted(RuntimeError):
    """Another chain failed; this one stops before doing anything more."""


class Run:
    """A run being brought up by several threads: its state, saved under a lock."""

    def __init__(self, state: RunState, progress: Progress) -> None:
        self.state = state
        self.progress = progress
        self.abort = threading.Event()
        self._lock = threading.Lock()

    def save(self) -> None:
        with self._lock:
            self.state.save()

    @contextlib.contextmanager
    def timed(self, label: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        elapsed = round(time.monotonic() - started, 1)
        with self._lock:
            self.state.timings[label] = elapsed
        self.progress(f"{label} done in {elapsed:.1f}s")

    def _check(self) -> None:
        if self.abort.is_set():
            raise Aborted("aborted because another part of the run failed")

    def step(self, command: processes.Command, timeout: float = STEP_TIMEOUT) -> None:
        self._check()
        processes.run_step(command, self.state.layout, self.state.run_id, timeout)

    def start(self, command: processes.Command) -> int:
        self._check()
        pid = processes.spawn(command, self.state.layout, self.state.run_id)
        with self._lock:
            self.state.pids[command.name] = pid
            self.state.save()
        return pid

    def wait_api(self, name: str) -> None:
        pid = self.state.pids[name]
        api = services.apis(self.state)[name]
        try:
            processes.wait_http(
                services.api_url(self.state, name, api.health_path),
                API_TIMEOUT,
                lambda: processes.is_alive(pid) and not self.abort.is_set(),
                name,
            )
        except StepFailed as exc:
            log = self.state.layout.log_file(name)
            raise StepFailed(f"{exc}; tail of {log}:\n{processes.tail(log)}") from None


def report_dead(state: RunState, progress: Progress) -> None:
    """Show the end of the log of every service that died: usually the cause of a failure."""
    for name, pid in state.pids.items():
        if not processes.is_alive(pid):
            log = state.layout.log_file(name)
            progress(f"{name} (pid {pid}) died; tail of {log}:\n{processes.tail(log, 20)}")
