"""Progress of a long run, on stderr: counts per service, a bar on a terminal.

stdout carries only the command's result (a table, JSON), so scripts can
parse it while an operator watches this. A retry is said at once, with its
reason and what happens next (``block_storage volume v1: HTTP 500: ...;
retry 3/7 in 4 s``): a bar that stands still for a minute says nothing.
Discovery says each service as its listing ends (:class:`Discovery`), and
a long wait for deletions to be confirmed says what it waits for
(``waiting for 3 volume(s) to go (12 s of 600)``, :func:`waits`). With
``-q`` (:func:`quiet`) none of this is said: only the result and errors.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from reaper import progress
from reaper.model import Outcome, OutcomeStatus, Plan, Resource, Step

BAR_WIDTH = 30


class Progress:
    """An executor observer that redraws a summary line as steps finish."""

    def __init__(
        self,
        plan: Plan,
        stream: TextIO,
        *,
        interval: float = 0.5,
        attempts: int = 8,
        quiet: bool = False,
    ) -> None:
        self.stream = stream
        #: ``-q``: say nothing (no bar, no retries, no waits); the report still says
        #: what failed.
        self.quiet = quiet
        #: ``[executor] retry_attempts``: a step is tried this many times in all.
        self.attempts = attempts
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.interval = interval if self.tty else max(interval, 5.0)
        self.total: collections.Counter[str] = collections.Counter(s.service for s in plan.steps)
        self.done: collections.Counter[str] = collections.Counter()
        self.failed = 0
        self.lock = threading.Lock()
        self.last = 0.0

    def step_started(self, step: Step, resource: Resource | None) -> None:
        pass

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        if self.quiet:
            return
        line = retry_line(step, attempt, error, delay, attempts=self.attempts)
        with self.lock:
            # Over the bar on a terminal; the next redraw puts the bar back below it.
            self.stream.write(("\r\x1b[K" if self.tty else "") + line + "\n")
            self.stream.flush()

    def say(self, message: str) -> None:
        """A line of its own (a wait for confirmations), over the bar as a retry is."""
        if self.quiet:
            return
        with self.lock:
            self.stream.write(("\r\x1b[K" if self.tty else "") + message + "\n")
            self.stream.flush()

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        with self.lock:
            self.done[step.service] += 1
            if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.BLOCKED):
                self.failed += 1
            now = time.monotonic()
            finished = sum(self.done.values()) == sum(self.total.values())
            if not self.quiet and (finished or now - self.last >= self.interval):
                self.last = now
                self._draw(final=finished)

    def _draw(self, *, final: bool) -> None:
        done, total = sum(self.done.values()), sum(self.total.values()) or 1
        parts = [f"{svc} {self.done[svc]}/{n}" for svc, n in sorted(self.total.items())]
        line = f"{done}/{total} steps ({', '.join(parts)})"
        if self.failed:
            line += f", {self.failed} failed or blocked"
        if self.tty:
            filled = int(BAR_WIDTH * done / total)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {line}\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def retry_line(step: Step, attempt: int, error: str, delay: float, *, attempts: int) -> str:
    """``block_storage volume v1: HTTP 500: ...; retry 3/7 in 4 s``: what failed, what next.

    ``attempt`` is the attempt that just failed; the retries number from 1 to
    ``attempts - 1``.
    """
    kind = step.resource.type.split(".", 1)[-1]
    reason = error.removeprefix("Transient: ")
    wait = f"{delay:.0f} s" if delay >= 1 else f"{delay:.1f} s"
    return (
        f"{step.service} {kind} {step.resource.id}: {reason}; "
        f"retry {attempt}/{max(attempts - 1, attempt)} in {wait}"
    )


class Discovery:
    """A :func:`reaper.progress.watched` watcher: one stderr line per service listed.

    On a terminal the line is rewritten in place and cleared by :meth:`done`;
    elsewhere (a log, CI) each report is a line of its own.
    """

    def __init__(self, stream: TextIO, what: str = "discovery") -> None:
        self.stream = stream
        self.what = what
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.said = False

    def __call__(self, message: str) -> None:
        if self.tty:
            self.stream.write(f"\r{self.what}: {message}\x1b[K")
        else:
            self.stream.write(f"{self.what}: {message}\n")
        self.stream.flush()
        self.said = True

    def done(self) -> None:
        if self.tty and self.said:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def quiet(app: Any) -> bool:
    """Whether the operator asked for quiet (``-q``, of ``reaper`` or of ``openstack``)."""
    return getattr(getattr(app, "options", None), "verbose_level", 1) < 1


@contextlib.contextmanager
def waits(app: Any, shown: Progress) -> Iterator[None]:
    """Say the executor's waits for confirmations through ``shown`` inside the block (not -q)."""
    with progress.watched(None if quiet(app) else shown.say):
        yield


@contextlib.contextmanager
def discovery(app: Any, what: str = "discovery") -> Iterator[None]:
    """Show the stages' progress reports on ``app``'s stderr inside the block (not with -q)."""
    watcher = None if quiet(app) else Discovery(app.stderr, what)
    try:
        with progress.watched(watcher):
            yield
    finally:
        if watcher is not None:
            watcher.done()
