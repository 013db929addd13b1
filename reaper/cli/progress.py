"""Progress of a long run, on stderr: counts per service, a bar on a terminal.

stdout carries only the command's result (a table, JSON), so scripts can
parse it while an operator watches this.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TextIO

from reaper.model import Outcome, OutcomeStatus, Plan, Resource, Step

BAR_WIDTH = 30


class Progress:
    """An executor observer that redraws a summary line as steps finish."""

    def __init__(self, plan: Plan, stream: TextIO, *, interval: float = 0.5) -> None:
        self.stream = stream
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
        pass

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        with self.lock:
            self.done[step.service] += 1
            if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.BLOCKED):
                self.failed += 1
            now = time.monotonic()
            finished = sum(self.done.values()) == sum(self.total.values())
            if finished or now - self.last >= self.interval:
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
