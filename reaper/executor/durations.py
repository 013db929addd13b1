"""How long removals of a kind take to be confirmed, learned across plans.

A confirmation listing sent before the service has done its work finds
nothing gone and costs a request: in a storm of small projects (two
servers, two volumes each) the listings that came too early were 40% of
every request sent. The first listing of a kind waits for what removals of
that kind usually took (:meth:`Durations.first_wait`), as seen by the
controller's earlier plans, instead of ``confirm_interval``.

What is learned, per (resource type, action), one number: the wait.

* A listing that confirms removals an earlier listing still showed sets it
  to how long after their acceptance that listing was sent (the oldest
  of them): about what the service now takes.
* A listing that confirms removals at the first try shrinks it by
  :data:`SHRINK`: they may have been gone well before, so the next first
  listing comes a little sooner, until one comes too early and the wait
  is set again. A service that got faster is followed down, one that got
  slower is followed up at once; in a steady cloud about one first listing
  in five comes too early.

Never shorter than ``confirm_interval`` nor longer than half of
``confirm_timeout``. Only *when* a listing is sent changes: what confirms a
removal is still a listing that no longer shows it.
"""

from __future__ import annotations

import threading

#: (resource type, action)
Kind = tuple[str, str]

#: What a confirmation by a first listing does to the wait.
SHRINK = 0.95


class Durations:
    """Per kind, how long after an acceptance its first listing is sent (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wait: dict[Kind, float] = {}

    def confirmed(self, key: Kind, seconds: float, *, first: bool) -> None:
        """A listing sent ``seconds`` after the oldest acceptance it confirmed (of ``key``).

        ``first``: none of them had been shown by an earlier listing.
        """
        with self._lock:
            if not first:
                self._wait[key] = max(0.0, seconds)
            elif key in self._wait:
                self._wait[key] = min(self._wait[key], max(0.0, seconds)) * SHRINK

    def typical(self, key: Kind) -> float | None:
        """What ``key``'s first listing waits for now; ``None``: nothing learned yet."""
        with self._lock:
            return self._wait.get(key)

    def first_wait(self, key: Kind, interval: float, timeout: float) -> float:
        """Seconds from a first acceptance of ``key`` to its first confirmation listing."""
        typical = self.typical(key)
        if typical is None:
            return interval
        return max(interval, min(typical, timeout / 2))


#: The process's memory: every plan a controller runs learns from the ones before.
PROCESS = Durations()
