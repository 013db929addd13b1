"""Batches handed over while the store is busy are persisted together: one transaction.

oslo.messaging hands the listener's batches to several executor threads, but
the store takes one writer at a time (SQLite's lock; on PostgreSQL the audit
chain's head row), so under load the threads queue behind each other and each
batch pays its own transaction, its own statements and its own commit, the
fsync that dominates a small batch. Here, batches that arrive while one is
being written wait together; when it is done, the first of them (the leader)
persists them all as one batch, so a backlog of N batches costs about two
commits, not N, and a quiet bus still gets one transaction per batch at once.
The leader/follower scheme is :mod:`reaper.audit.groupcommit`'s.

Invariants:

* a caller returns only once its own messages are persisted (the leader's
  ``persist`` returned), and nothing of another caller is reported to it;
* a group is one ``persist`` call, so whatever ``persist`` promises for a batch
  (tombstones and receipts in one commit, duplicates found on ``message_id``)
  holds for the group;
* a failed group is never retried as a group. An error listed in
  ``propagate`` (the store is unavailable) goes to every caller in it, who
  holds its own batch as before. Any other error (the store refused
  something) makes each caller persist its own batch alone, once, so one
  caller's poisonous message costs the others one extra attempt, and the
  caller whose batch holds it gets the error for itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

Persist = Callable[[Sequence[Any]], None]


class _Group:
    """The batches one leader persists together, and how it went."""

    def __init__(self) -> None:
        self.batches: list[Sequence[Any]] = []
        self.error: BaseException | None = None
        self.finished = False


class Coalescer:
    """Funnels the batches of concurrent callers into as few ``persist`` calls as they allow."""

    def __init__(
        self, persist: Persist, *, propagate: tuple[type[BaseException], ...] = ()
    ) -> None:
        self._persist = persist
        self._propagate = propagate
        self._cond = threading.Condition()
        #: The group taking batches; ``None`` until a caller waits.
        self._open: _Group | None = None
        #: Whether a leader is persisting a group now.
        self._busy = False
        #: Groups persisted and batches they held (for benchmarks and tests).
        self.groups = 0
        self.batches = 0

    def persist(self, messages: Sequence[Any]) -> None:
        """Persist ``messages``, possibly with other callers' batches; raises what it met."""
        if not messages:
            return
        with self._cond:
            if self._open is None:
                self._open = _Group()
            group = self._open
            group.batches.append(messages)
            while not group.finished:
                if not self._busy and self._open is group:
                    self._busy, self._open = True, None
                    break
                self._cond.wait()
        if not group.finished:
            self._lead(group)
        if group.error is None:
            return
        if len(group.batches) == 1 or isinstance(group.error, self._propagate):
            raise group.error
        self._persist(messages)  # a shared group failed: this caller's batch alone

    def _lead(self, group: _Group) -> None:
        """Persist ``group`` as one batch, then let the next group go."""
        try:
            self._persist([m for batch in group.batches for m in batch])
        except BaseException as exc:
            group.error = exc
        finally:
            with self._cond:
                group.finished = True
                self._busy = False
                self.groups += 1
                self.batches += len(group.batches)
                self._cond.notify_all()
