"""The identity directory: which domain each project and user belonged to.

Keystone forgets a deleted domain's contents; the notifications that
announce them (one ``project.deleted`` per project) carry only ids. The
sweep records every project and user it lists, with its domain, so that
when ``domain.deleted`` arrives reaper can check that each project it has
seen in that domain has a cleanup of its own, and open the missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, select, update

from reaper.model import IdentityKind, IdentityRef, utcnow
from reaper.store import schema
from reaper.store.database import Database, retry_conflicts

I = schema.identities  # noqa: E741


@dataclass(frozen=True)
class Known:
    identity: IdentityRef
    domain_id: str | None
    name: str | None = None


class DirectoryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @retry_conflicts
    def record(self, seen: Iterable[Known], *, now: dt.datetime | None = None) -> int:
        """Remember (or refresh) identities as seen now; returns how many were new."""
        now = now or utcnow()
        rows = [
            {
                "kind": k.identity.kind.value,
                "id": k.identity.id,
                "domain_id": k.domain_id,
                "name": k.name,
                "seen_at": now,
            }
            for k in seen
        ]
        if not rows:
            return 0
        with self._db.write("record seen identities") as conn:
            new = self._db.insert_ignore(conn, I, rows, ("kind", "id"))
            for kind in {r["kind"] for r in rows}:
                ids = [r["id"] for r in rows if r["kind"] == kind]
                for start in range(0, len(ids), 500):
                    conn.execute(
                        update(I)
                        .where(and_(I.c.kind == kind, I.c.id.in_(ids[start : start + 500])))
                        .values(seen_at=now)
                    )
        return new

    def in_domain(self, domain_id: str) -> list[Known]:
        """Every project and user reaper has seen in ``domain_id``."""
        with self._db.read("list a domain's identities") as conn:
            rows = conn.execute(
                select(I).where(I.c.domain_id == domain_id).order_by(I.c.kind, I.c.id)
            ).all()
        return [Known(IdentityRef(IdentityKind(r.kind), r.id), r.domain_id, r.name) for r in rows]
