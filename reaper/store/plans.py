"""Plans by content hash, and what became of each of their steps.

A plan is stored as the canonical JSON its hash was computed over, so
loading it re-checks the hash (``Plan.from_dict``): what ``apply`` runs is
what was shown, even if someone edits the row. That JSON is kept deflated
(:func:`pack`: ``zlib:`` and the base64 of its zlib stream), because it
holds every resource's attributes, nulls and all: 2.8 KiB per server as
text, about 0.26 KiB deflated, against 0.4 KiB with PostgreSQL's own TOAST
compression and nothing saved on SQLite or MariaDB (issue 18's B3, bytes
per cleaned resource). Rows written before hold the JSON itself and load
as they are.

Step outcomes are keyed by (plan hash, step id). Once a step has a final
outcome (done, already gone, skipped) a second one is refused with
:class:`StepAlreadyFinal`: a controller that resumes a tombstone after a
crash asks :meth:`PlanRepository.outcomes` what is left, and even a bug that
would run a step twice cannot record it twice. Failed, blocked, held and
deferred outcomes may be replaced, because those steps may legitimately run
again. A deferred step carries ``due_at``, the end of its grace period; a
kept one its users (``used_by``), for ``reaper tombstone show --waiting``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection, Row

from reaper import canonical
from reaper.model import IdentityRef, Outcome, OutcomeStatus, Plan, PlanIntegrityError, utcnow
from reaper.store import schema
from reaper.store.database import Database, retry_conflicts
from reaper.store.errors import NotFound, StepAlreadyFinal

P = schema.plans
O = schema.step_outcomes  # noqa: E741

#: Outcomes that close a step for good.
FINAL_STEP_STATUSES: frozenset[OutcomeStatus] = frozenset(
    {OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE, OutcomeStatus.SKIPPED}
)


@dataclass(frozen=True)
class DeferredStep:
    """A step waiting for its grace period to end."""

    plan_hash: str
    step_id: str
    tombstone_id: str | None
    due_at: dt.datetime
    reason: str


#: What a deflated body starts with; a JSON body starts with ``{``.
PACKED = "zlib:"


def pack(body: bytes) -> str:
    """The stored form of a plan's canonical JSON (see the module)."""
    return PACKED + base64.b64encode(zlib.compress(body, 6)).decode("ascii")


def unpack(stored: str) -> str:
    """The canonical JSON of a stored plan, deflated or (an older row) as it is."""
    if stored.startswith(PACKED):
        return zlib.decompress(base64.b64decode(stored[len(PACKED) :])).decode("utf-8")
    return stored


def _outcome(row: Row[Any]) -> Outcome:
    return Outcome(
        step_id=row.step_id,
        status=OutcomeStatus(row.status),
        reason=row.reason,
        attempts=row.attempts,
        retries=tuple(json.loads(row.retries)),
        started_at=row.started_at,
        finished_at=row.finished_at,
        used_by=tuple(json.loads(row.used_by)) if row.used_by else (),
    )


class PlanRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, plan: Plan, *, now: dt.datetime | None = None) -> str:
        """Store ``plan`` (idempotent: same content, same hash, one row); returns the hash."""
        data = plan.to_dict()
        digest = data["content_hash"]
        values = {
            "hash": digest,
            "kind": plan.identity.kind.value,
            "identity_id": plan.identity.id,
            "created_at": plan.created_at,
            "stored_at": now or utcnow(),
            "body": pack(canonical.dumps(data)),
        }
        with self._db.write("save a plan") as conn:
            self._db.insert_ignore(conn, P, values, ("hash",))
        return digest

    def load(self, plan_hash: str) -> Plan:
        """The plan with that hash; ``PlanIntegrityError`` if its row was altered."""
        with self._db.read("load a plan") as conn:
            body = conn.execute(select(P.c.body).where(P.c.hash == plan_hash)).scalar()
        if body is None:
            raise NotFound(f"no plan {plan_hash}")
        try:
            text = unpack(body)
        except (ValueError, zlib.error) as exc:  # binascii.Error is a ValueError
            raise PlanIntegrityError(f"plan stored as {plan_hash} cannot be read: {exc}") from exc
        plan = Plan.from_dict(json.loads(text))
        if plan.content_hash != plan_hash:
            # The body is self-consistent but is not the plan stored under this key.
            raise PlanIntegrityError(
                f"plan stored as {plan_hash} has content hash {plan.content_hash}"
            )
        return plan

    def latest(self, identity: IdentityRef) -> Plan | None:
        with self._db.read("load the latest plan") as conn:
            h = conn.execute(
                select(P.c.hash)
                .where(and_(P.c.kind == identity.kind.value, P.c.identity_id == identity.id))
                .order_by(P.c.created_at.desc(), P.c.stored_at.desc())
                .limit(1)
            ).scalar()
        return None if h is None else self.load(h)

    # -- outcomes --------------------------------------------------------

    @retry_conflicts
    def record_outcome(
        self,
        plan_hash: str,
        outcome: Outcome,
        *,
        tombstone_id: str | None = None,
        due_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> Outcome:
        """Record a step's outcome; raises :class:`StepAlreadyFinal` if it had a final one.

        ``due_at`` is required for a DEFERRED outcome: when the step may run.
        With ``conn`` the outcome joins the caller's transaction (the audit
        observer writes it with its audit record, so one is never without
        the other).
        """
        if outcome.status is OutcomeStatus.DEFERRED and due_at is None:
            raise ValueError("a deferred step needs due_at, the end of its grace period")
        now = now or utcnow()
        values = {
            "tombstone_id": tombstone_id,
            "status": outcome.status.value,
            "reason": outcome.reason,
            "attempts": outcome.attempts,
            "retries": canonical.dumps(list(outcome.retries)).decode("utf-8"),
            "started_at": outcome.started_at,
            "finished_at": outcome.finished_at,
            "due_at": due_at if outcome.status is OutcomeStatus.DEFERRED else None,
            "recorded_at": now,
            "used_by": (
                canonical.dumps([dict(u) for u in outcome.used_by]).decode("utf-8")
                if outcome.used_by
                else None
            ),
        }
        key = and_(O.c.plan_hash == plan_hash, O.c.step_id == outcome.step_id)
        with self._db.write_in(conn, "record a step outcome") as conn:
            inserted = self._db.insert_ignore(
                conn,
                O,
                {"plan_hash": plan_hash, "step_id": outcome.step_id, **values},
                ("plan_hash", "step_id"),
            )
            if not inserted:
                existing = conn.execute(select(O).where(key).with_for_update()).one()
                if OutcomeStatus(existing.status) in FINAL_STEP_STATUSES:
                    raise StepAlreadyFinal(
                        f"step {outcome.step_id} of plan {plan_hash} is already "
                        f"{existing.status}; refusing to record {outcome.status.value}"
                    )
                if values["tombstone_id"] is None:
                    values["tombstone_id"] = existing.tombstone_id
                conn.execute(update(O).where(key).values(**values))
        return outcome

    def outcome(self, plan_hash: str, step_id: str) -> Outcome | None:
        with self._db.read("load a step outcome") as conn:
            row = conn.execute(
                select(O).where(and_(O.c.plan_hash == plan_hash, O.c.step_id == step_id))
            ).first()
        return None if row is None else _outcome(row)

    def outcomes(self, plan_hash: str) -> dict[str, Outcome]:
        """Every recorded outcome of the plan, by step id."""
        with self._db.read("load step outcomes") as conn:
            rows = conn.execute(select(O).where(O.c.plan_hash == plan_hash)).all()
        return {r.step_id: _outcome(r) for r in rows}

    def due_deferred(
        self, *, now: dt.datetime | None = None, limit: int = 100
    ) -> list[DeferredStep]:
        """Deferred steps whose grace period has ended, earliest first."""
        now = now or utcnow()
        query = (
            select(O.c.plan_hash, O.c.step_id, O.c.tombstone_id, O.c.due_at, O.c.reason)
            .where(and_(O.c.status == OutcomeStatus.DEFERRED.value, O.c.due_at <= now))
            .order_by(O.c.due_at, O.c.plan_hash, O.c.step_id)
            .limit(limit)
        )
        with self._db.read("list due deferred steps") as conn:
            rows = conn.execute(query).all()
        return [
            DeferredStep(r.plan_hash, r.step_id, r.tombstone_id, r.due_at, r.reason) for r in rows
        ]
