"""Tombstones: one persistent row per deleted identity, and who works on it.

The repository is split by concern, one module each, and put back together
here so callers keep one ``store.tombstones``:

* :mod:`~reaper.store.tombstones.intake`: deduplication. A trigger is
  recorded against its identity's tombstone (created on first sight); a
  ``message_id`` seen before is a redelivery.
* :mod:`~reaper.store.tombstones.claims`: coordination. Controllers lease
  due tombstones (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and commit at
  once; a crashed controller's lease expires.
* :mod:`~reaper.store.tombstones.transitions`: the state machine's moves,
  compare-and-set.
* :mod:`~reaper.store.tombstones.queries`: reads, lists, metrics.

:mod:`~reaper.store.tombstones.rows` is how a tombstone is stored, shared by
all four; each concern runs its own short transactions over the one
:class:`~reaper.store.database.Database`.
"""

from __future__ import annotations

from reaper.store.database import Database
from reaper.store.tombstones.claims import CLAIMABLE, DEFAULT_LEASE, Claim, TombstoneClaims
from reaper.store.tombstones.intake import TriggerIntake, TriggerResult
from reaper.store.tombstones.queries import TombstoneQueries
from reaper.store.tombstones.rows import UNSET
from reaper.store.tombstones.transitions import TombstoneTransitions

__all__ = [
    "CLAIMABLE",
    "DEFAULT_LEASE",
    "UNSET",
    "Claim",
    "TombstoneRepository",
    "TriggerResult",
]


class TombstoneRepository(TriggerIntake, TombstoneClaims, TombstoneTransitions, TombstoneQueries):
    """Every concern over one database: what ``store.tombstones`` is."""

    def __init__(self, db: Database) -> None:
        self._db = db
