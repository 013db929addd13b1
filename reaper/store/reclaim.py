"""Reclaim figures: what a tombstone's project held before and after its cleanup.

The figures are plain mappings (``reaper/reclaim.py`` makes and reads them);
the store keeps them as canonical JSON. ``before`` is recorded once per
tombstone, at the first execution: a cleanup retried, resumed or reopened
reports everything reaper gave back since it first acted. ``after`` is
replaced by every later measurement, so it is always the latest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from reaper.canonical import dumps
from reaper.model import utcnow
from reaper.store import schema
from reaper.store.database import Database, retry_conflicts

R = schema.reclaim


@dataclasses.dataclass(frozen=True)
class ReclaimRecord:
    tombstone_id: str
    before: Mapping[str, Any]
    before_at: dt.datetime
    after: Mapping[str, Any] | None = None
    after_at: dt.datetime | None = None


class ReclaimRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @retry_conflicts
    def record_before(
        self, tombstone_id: str, figures: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> bool:
        """Keep ``figures`` as the tombstone's ``before``; False if one was kept already."""
        row = {
            "tombstone_id": tombstone_id,
            "before": dumps(dict(figures)).decode(),
            "before_at": now or utcnow(),
        }
        with self._db.write("record usage before a cleanup") as conn:
            return self._db.insert_ignore(conn, R, row, ("tombstone_id",)) > 0

    @retry_conflicts
    def record_after(
        self, tombstone_id: str, figures: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> ReclaimRecord | None:
        """Replace the tombstone's ``after``; returns the record as it was before, if any.

        Without a ``before`` there is nothing to compare with: nothing is
        kept, and ``None`` is returned.
        """
        with self._db.write("record usage after a cleanup") as conn:
            old = conn.execute(
                select(R).where(R.c.tombstone_id == tombstone_id).with_for_update()
            ).first()
            if old is None:
                return None
            conn.execute(
                update(R)
                .where(R.c.tombstone_id == tombstone_id)
                .values(after=dumps(dict(figures)).decode(), after_at=now or utcnow())
            )
        return _record(old)

    def get(self, tombstone_id: str) -> ReclaimRecord | None:
        with self._db.read("read reclaim figures") as conn:
            row = conn.execute(select(R).where(R.c.tombstone_id == tombstone_id)).first()
        return _record(row) if row is not None else None


def _record(row: Any) -> ReclaimRecord:
    return ReclaimRecord(
        tombstone_id=row.tombstone_id,
        before=json.loads(row.before),
        before_at=row.before_at,
        after=json.loads(row.after) if row.after is not None else None,
        after_at=row.after_at,
    )
