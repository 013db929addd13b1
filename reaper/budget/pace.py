"""One service's pace: how many requests may be in flight, and from when.

Pure state, no threads and no clock of its own: every method is given the
monotonic time. :class:`~reaper.budget.budget.Budget` holds one per
service behind its lock.

The rules (AIMD, as TCP does it):

* a 429 or 503 halves the service's limit (never below 1) and pauses every
  new request to it until ``Retry-After`` has passed, honoured in full up
  to ``retry_after_max`` (a longer one is cut, and the caller logs that);
  without ``Retry-After`` the pause is ``default_pause``. Several throttled
  answers in flight at once (they were all sent before the first came
  back) halve the limit once per pause, not once each;
* ``recover_after`` successful answers in a row raise the limit by one, up
  to the configured cap; any throttled answer restarts the count.

Invariants: ``1 <= limit <= cap``; ``paused_until`` only moves forward.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PaceRules:
    """How a service is slowed down and brought back up (``[executor]`` options)."""

    #: The longest one ``Retry-After`` pauses a service.
    retry_after_max: float = 600.0
    #: The pause after a 429/503 that says nothing of when to come back.
    default_pause: float = 1.0
    #: Successful answers in a row before the limit is raised by one.
    recover_after: int = 10


@dataclasses.dataclass(frozen=True)
class Throttle:
    """What one throttled answer did to the service's pace."""

    pause: float
    #: ``Retry-After`` asked for longer than ``retry_after_max``: this much was asked.
    capped_from: float | None
    limit: int
    #: Whether this answer lowered the limit (the first of its pause).
    lowered: bool


class Pace:
    """The limit and pause of one service."""

    def __init__(self, cap: int, rules: PaceRules) -> None:
        if cap < 1:
            raise ValueError(f"a concurrency cap must be at least 1, not {cap}")
        self.cap = cap
        self.rules = rules
        self.limit = cap
        self.paused_until = 0.0
        self.successes = 0
        #: When the last halving happened: throttled answers to requests sent
        #: before it do not halve again.
        self._lowered_at = float("-inf")

    def wait(self, now: float) -> float:
        """Seconds until a new request may be sent (0: now, if a slot is free)."""
        return max(0.0, self.paused_until - now)

    def throttled(self, now: float, retry_after: float | None, sent_at: float) -> Throttle:
        """A 429/503 came back for a request sent at ``sent_at``."""
        asked = self.rules.default_pause if retry_after is None else max(0.0, retry_after)
        pause = min(asked, self.rules.retry_after_max)
        capped = asked if asked > self.rules.retry_after_max else None
        self.paused_until = max(self.paused_until, now + pause)
        self.successes = 0
        lowered = sent_at >= self._lowered_at
        if lowered:
            self.limit = max(1, self.limit // 2)
            self._lowered_at = now
        return Throttle(pause=pause, capped_from=capped, limit=self.limit, lowered=lowered)

    def succeeded(self) -> bool:
        """An answer that was not throttled; whether the limit went up by one."""
        if self.limit >= self.cap:
            self.successes = 0
            return False
        self.successes += 1
        if self.successes < self.rules.recover_after:
            return False
        self.successes = 0
        self.limit += 1
        return True
