"""Moving a tombstone through its states, compare-and-set style.

A move names the states it may come from and, for a worker, the lease it
must hold; a row that is not as expected is left alone and the caller told
what it is instead (:class:`~reaper.store.errors.StateConflict`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, update

from reaper.model import Tombstone, TombstoneState, utcnow
from reaper.store.database import Database
from reaper.store.errors import NotFound, StateConflict
from reaper.store.tombstones.claims import Claim
from reaper.store.tombstones.rows import UNSET, T, load


class TombstoneTransitions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def transition(
        self,
        tombstone_id: str,
        to: TombstoneState,
        *,
        expected: Collection[TombstoneState] | None = None,
        owner: str | None = None,
        claim: Claim | None = None,
        reason: str | None = None,
        plan_hash: str | None = UNSET,
        next_attempt_at: dt.datetime | None = UNSET,
        release: bool = False,
        now: dt.datetime | None = None,
    ) -> Tombstone:
        """Move to state ``to``, compare-and-set style.

        With ``expected``, the move happens only from one of those states;
        with ``owner``, only while that controller holds the lease; with
        ``claim``, only while that very claim (owner and fencing token) holds
        it, so a worker whose lease was taken over is refused. Otherwise
        :class:`StateConflict` says what the row looks like instead, and
        nothing changed. ``release`` gives the lease up in the same write.
        """
        now = now or utcnow()
        values: dict[str, Any] = {"state": to.value, "updated_at": now}
        if reason is not None:
            values["reason"] = reason
        if plan_hash is not UNSET:
            values["plan_hash"] = plan_hash
        if next_attempt_at is not UNSET:
            values["next_attempt_at"] = next_attempt_at
        if release:
            values["claimed_by"] = None
            values["claimed_at"] = None
        conditions = [T.c.id == tombstone_id]
        if expected is not None:
            conditions.append(T.c.state.in_([s.value for s in expected]))
        if owner is not None:
            conditions.append(T.c.claimed_by == owner)
        if claim is not None:
            conditions.append(claim.holds())
            owner = owner or f"{claim.owner} (claim {claim.token})"
        with self._db.write("change a tombstone's state") as conn:
            result = conn.execute(update(T).where(and_(*conditions)).values(**values))
            current = load(conn, T.c.id == tombstone_id)
            if current is None:
                raise NotFound(f"no tombstone {tombstone_id}")
            if result.rowcount != 1:
                raise StateConflict(
                    f"tombstone {tombstone_id} is {current.state.value}"
                    f" (claimed by {current.claimed_by or 'nobody'}); refusing to move it to "
                    f"{to.value}"
                    + (f" from {sorted(s.value for s in expected)}" if expected else "")
                    + (f" as {owner}" if owner else "")
                )
        return current

    def reopen(
        self, tombstone_id: str, reason: str, *, now: dt.datetime | None = None
    ) -> Tombstone:
        """Send a finished tombstone back to ``received`` (see ``reaper.cleanup.lifecycle``).

        Compare-and-set from ``refused``/``complete`` only, so two listeners
        reopening the same tombstone at once do it once; the previous plan
        and its outcomes stay stored, the next plan is made afresh.
        """
        return self.transition(
            tombstone_id,
            TombstoneState.RECEIVED,
            expected=[TombstoneState.REFUSED, TombstoneState.COMPLETE],
            reason=reason,
            plan_hash=None,
            next_attempt_at=None,
            now=now,
        )
