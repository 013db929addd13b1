"""The executor's sense of time, handed to each part of a run.

Wall-clock time stamps outcomes and decides grace periods; the monotonic
clock paces listings and lookups; ``sleep`` waits between retries. Tests
give the executor their own, and every part of a run gets the same one from
the executor: none keeps a clock of its own or reaches for another's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

from reaper.model import utcnow


@dataclasses.dataclass(frozen=True)
class Clock:
    now: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
