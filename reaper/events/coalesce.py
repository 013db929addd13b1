"""Batches handed over while the store is busy are persisted together: one transaction.

oslo.messaging hands the listener's batches to several executor threads, but
the store takes one writer at a time (SQLite's lock; on PostgreSQL the audit
chain's head row), so under load the threads queue behind each other and each
batch pays its own transaction, its own statements and its own commit, the
fsync that dominates a small batch. Here, batches that arrive while one is
being written wait together; when it is done, the first of them (the leader)
persists them all as one batch, so a backlog of N batches costs about two
commits, not N, and a quiet bus still gets one transaction per batch at once.
The leader/follower scheme is :mod:`reaper.store.funnel`'s; this module keeps
only the error policy below.

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

from collections.abc import Callable, Sequence
from typing import Any

from reaper.store.funnel import Funnel

Persist = Callable[[Sequence[Any]], None]


class Coalescer:
    """Funnels the batches of concurrent callers into as few ``persist`` calls as they allow."""

    def __init__(
        self, persist: Persist, *, propagate: tuple[type[BaseException], ...] = ()
    ) -> None:
        self._persist = persist
        self._propagate = propagate
        self._funnel: Funnel[Any, None] = Funnel(persist)

    @property
    def groups(self) -> int:
        """``persist`` calls made for groups (for benchmarks and tests)."""
        return self._funnel.groups

    @property
    def batches(self) -> int:
        """Batches they held."""
        return self._funnel.requests

    @property
    def waiting(self) -> int:
        """Batches queued for the next group."""
        return self._funnel.waiting

    def persist(self, messages: Sequence[Any]) -> None:
        """Persist ``messages``, possibly with other callers' batches; raises what it met."""
        if not messages:
            return
        turn = self._funnel.submit(messages)
        if turn.error is None:
            return
        if not turn.shared or isinstance(turn.error, self._propagate):
            raise turn.error
        self._persist(messages)  # a shared group failed: this caller's batch alone
