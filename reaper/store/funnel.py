"""A funnel: the writes of concurrent threads, as few store transactions as they allow.

A store write pays a round trip and a commit (an fsync), and the store takes
one writer at a time where it matters (the audit chain's head row, SQLite's
lock), so threads that write at once queue behind each other and each pays
its own commit. Through a funnel, the requests that arrive while one write is
in progress wait together; when it is done, the first of them (the leader)
hands all of them to ``write`` in one call, so a burst of N requests costs
about two writes, not N, and a lone request is written at once.

The audit trail's group commit (:mod:`reaper.audit.groupcommit`) and the
listener's batch coalescing (:mod:`reaper.events.coalesce`) are funnels; each
keeps only what it does with the outcome (which records are a caller's, which
errors a caller retries alone).

Invariants:

* ``write`` is called by one thread at a time, with the requests of a group
  concatenated in the order they arrived;
* a caller returns only once the group holding its request was written (or
  failed), and learns where its own items sit in the group;
* a group is written once: a failure is reported to every caller in it, never
  retried here (a commit whose outcome is unknown must not be written twice).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Turn(Generic[R]):
    """What became of one caller's request: its place in the group and the group's outcome.

    ``result`` is what ``write`` returned for the whole group (``None`` on
    failure); the caller's items are ``[offset, offset + size)`` of the group's.
    """

    result: R | None
    error: BaseException | None
    offset: int
    size: int
    shared: bool


class _Group(Generic[T, R]):
    """The requests one leader writes together, and how it went."""

    def __init__(self) -> None:
        self.requests: list[Sequence[T]] = []
        self.result: R | None = None
        self.error: BaseException | None = None
        self.finished = False

    def turn(self, index: int) -> Turn[R]:
        offset = sum(len(r) for r in self.requests[:index])
        size, shared = len(self.requests[index]), len(self.requests) > 1
        return Turn(self.result, self.error, offset, size, shared)


class Funnel(Generic[T, R]):
    """Leader/follower over one condition: concurrent requests share ``write`` calls."""

    def __init__(self, write: Callable[[Sequence[T]], R]) -> None:
        self._write = write
        self._cond = threading.Condition()
        #: The group taking requests; ``None`` until someone asks.
        self._open: _Group[T, R] | None = None
        #: Whether a leader is writing a group now.
        self._busy = False
        #: Groups written and requests they held (for benchmarks and tests).
        self.groups = 0
        self.requests = 0

    @property
    def waiting(self) -> int:
        """Requests queued for the next group (tests use it to make callers pile up)."""
        with self._cond:
            return 0 if self._open is None else len(self._open.requests)

    def submit(self, items: Sequence[T]) -> Turn[R]:
        """Write ``items`` (non-empty), possibly with other callers'; returns once written."""
        with self._cond:
            if self._open is None:
                self._open = _Group()
            group = self._open
            group.requests.append(items)
            index = len(group.requests) - 1
            while not group.finished:
                if not self._busy and self._open is group:
                    self._busy, self._open = True, None
                    break
                self._cond.wait()
        if not group.finished:
            self._lead(group)
        return group.turn(index)

    def _lead(self, group: _Group[T, R]) -> None:
        """Write ``group`` in one call, then let the next group go."""
        try:
            group.result = self._write([item for request in group.requests for item in request])
        except BaseException as exc:
            group.error = exc
        finally:
            with self._cond:
                group.finished = True
                self._busy = False
                self.groups += 1
                self.requests += len(group.requests)
                self._cond.notify_all()
