"""The executor's sense of time, handed to each part of a run.

Wall-clock time stamps outcomes and decides grace periods; the monotonic
clock paces listings and lookups; ``sleep`` waits between retries. Tests
give the executor their own, and every part of a run gets the same one from
the executor: none keeps a clock of its own or reaches for another's.

A run that can be stopped (SIGTERM, a lost lease) sleeps with
:func:`interruptible`: the backoff ends the moment the run's stop event is
set, with :class:`Interrupted`, and the step is left without an outcome for
the next claim instead of sitting out a 30-second wait.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable

from reaper.model import utcnow


@dataclasses.dataclass(frozen=True)
class Clock:
    now: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


class Interrupted(Exception):
    """A wait between retries ended because the run is stopping."""


def interruptible(stop: threading.Event) -> Callable[[float], None]:
    """A ``sleep`` that waits on ``stop`` and raises :class:`Interrupted` once it is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Interrupted(f"stopping: a {seconds:.1f}s wait between retries was cut short")

    return sleep
