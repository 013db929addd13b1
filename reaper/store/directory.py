"""The identity directory: identities seen alive, and the domain each belonged to.

Keystone forgets a deleted identity, and its notifications carry only ids
(never the domain of the project or user they name). So reaper writes down
every project, user and domain it sees alive, with the domain as soon as it
is known, from three sources (``source`` says which saw it first):

* the sweep's listings of Keystone (``sweep``; the first one at start-up is
  the bootstrap), with domains;
* ``identity.*.created`` notifications (``notification``), id only;
* Keystone's answer while the identity still exists (``keystone``), with
  its domain (a worker verifying an ``updated`` notice, a disable...).

What it is for:

* ``protected_domain_ids`` protects a deleted project or user: Keystone
  cannot say its domain any more, the directory can (issue 13, item 2);
* a deletion of an id the directory never knew is not acted on, since a 404
  proves "gone" only for an id that existed (issue 13, item 10);
* ``domain.deleted``: each project seen in that domain must have a cleanup
  of its own (``in_domain``).

Invariant: a row's ``domain_id`` is only ever filled, never changed (Keystone
never moves a project or user to another domain).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select, update

from reaper.model import IdentityKind, IdentityRef, TombstoneState, utcnow
from reaper.store import schema
from reaper.store.database import Database, retry_conflicts

I = schema.identities  # noqa: E741
T = schema.tombstones


#: Who saw an identity alive first.
SWEEP, NOTIFICATION, KEYSTONE = "sweep", "notification", "keystone"


@dataclass(frozen=True)
class Known:
    identity: IdentityRef
    domain_id: str | None
    name: str | None = None
    source: str | None = None


class DirectoryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @retry_conflicts
    def record(
        self,
        seen: Iterable[Known],
        *,
        source: str = SWEEP,
        now: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Remember (or refresh) identities as seen alive now; returns how many were new.

        A domain learnt now fills a row that had none. With ``conn``, the
        statements join that write transaction.
        """
        now = now or utcnow()
        rows = [
            {
                "kind": k.identity.kind.value,
                "id": k.identity.id,
                "domain_id": k.domain_id,
                "name": k.name,
                "seen_at": now,
                "source": source,
            }
            for k in seen
        ]
        if not rows:
            return 0
        if conn is not None:
            return self._record(conn, rows, now)
        with self._db.write("record seen identities") as own:
            return self._record(own, rows, now)

    def _record(self, conn: Connection, rows: list[dict], now: dt.datetime) -> int:
        new = self._db.insert_ignore(conn, I, rows, ("kind", "id"))
        groups: dict[tuple[str, str | None], list[str]] = {}
        for r in rows:
            groups.setdefault((r["kind"], r["domain_id"]), []).append(r["id"])
        for (kind, domain_id), ids in groups.items():
            for start in range(0, len(ids), 500):
                chunk = and_(I.c.kind == kind, I.c.id.in_(ids[start : start + 500]))
                conn.execute(update(I).where(chunk).values(seen_at=now))
                if domain_id is not None:
                    conn.execute(
                        update(I)
                        .where(and_(chunk, I.c.domain_id.is_(None)))
                        .values(domain_id=domain_id)
                    )
        return new

    def get(self, identity: IdentityRef) -> Known | None:
        """What reaper knows of ``identity``: None if it was never seen alive."""
        with self._db.read("look an identity up") as conn:
            row = conn.execute(
                select(I).where(and_(I.c.kind == identity.kind.value, I.c.id == identity.id))
            ).first()
        return None if row is None else Known(identity, row.domain_id, row.name, row.source)

    def in_domain(self, domain_id: str) -> list[Known]:
        """Every project and user reaper has seen in ``domain_id``."""
        with self._db.read("list a domain's identities") as conn:
            rows = conn.execute(
                select(I).where(I.c.domain_id == domain_id).order_by(I.c.kind, I.c.id)
            ).all()
        return [
            Known(IdentityRef(IdentityKind(r.kind), r.id), r.domain_id, r.name, r.source)
            for r in rows
        ]

    def unsettled(self) -> list[IdentityRef]:
        """Identities seen alive whose deletion reaper has not taken up.

        Those with no tombstone, or with one ``refused`` (Keystone said they
        existed then): what the sweep by difference compares with Keystone's
        lists. One query, however large the directory.
        """
        joined = I.outerjoin(T, and_(T.c.kind == I.c.kind, T.c.identity_id == I.c.id))
        query = (
            select(I.c.kind, I.c.id)
            .select_from(joined)
            .where(or_(T.c.id.is_(None), T.c.state == TombstoneState.REFUSED.value))
        )
        with self._db.read("list identities without a cleanup") as conn:
            rows = conn.execute(query).all()
        return [IdentityRef(IdentityKind(r.kind), r.id) for r in rows]
