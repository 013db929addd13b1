"""``reaper tombstone list|show`` and ``reaper approve``: the controller's work, for operators."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Sequence
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cli import exitcodes
from reaper.model import Tombstone, TombstoneState
from reaper.store import NotFound, StateConflict, Store

COLUMNS = ("ID", "Identity", "State", "Attempts", "Next attempt", "Updated", "Reason")


def _row(t: Tombstone) -> tuple[Any, ...]:
    return (
        t.id,
        str(t.identity),
        t.state.value,
        t.attempts,
        t.next_attempt_at.isoformat() if t.next_attempt_at else "",
        t.updated_at.isoformat() if t.updated_at else "",
        t.reason,
    )


class TombstoneList(Lister):
    """List tombstones (most recently updated first), optionally by state."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--state",
            action="append",
            choices=[s.value for s in TombstoneState],
            help="Only tombstones in this state (repeatable).",
        )
        parser.add_argument("--limit", type=int, default=100, help="At most this many.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        store = Store.from_conf(self.app.conf)
        states = [TombstoneState(s) for s in parsed_args.state or ()]
        rows = [_row(t) for t in store.tombstones.list(states=states, limit=parsed_args.limit)]
        return COLUMNS, rows


class TombstoneShow(ShowOne):
    """Show one tombstone: its state, plan and every trigger that opened it."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("tombstone", metavar="ID", help="Tombstone id.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        store = Store.from_conf(self.app.conf)
        t = store.tombstones.get(parsed_args.tombstone)
        triggers = "\n".join(
            f"{tr.source.value} {tr.event_type or ''} {tr.message_id or ''}".strip()
            for tr in t.triggers
        )
        outcomes = store.plans.outcomes(t.plan_hash) if t.plan_hash else {}
        counts: dict[str, int] = {}
        for outcome in outcomes.values():
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        names = (*COLUMNS, "Plan", "Step outcomes", "Claimed by", "Triggers")
        values = (
            *_row(t),
            t.plan_hash or "",
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
            t.claimed_by or "",
            triggers,
        )
        return names, values


class Approve(ShowOne):
    """Release a tombstone held by a blast-radius limit (or by dry-run mode).

    The controller then executes the plan that was held, exactly, after
    asking Keystone again. The approval is audited with the operator's name.
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("tombstone", metavar="ID", help="Tombstone id (reaper tombstone list).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        conf = self.app.conf
        store = Store.from_conf(conf)
        try:
            t = store.tombstones.transition(
                parsed_args.tombstone,
                TombstoneState.PLANNED,
                expected=[TombstoneState.HELD],
                reason=f"approved by {getpass.getuser()}",
                next_attempt_at=None,
            )
        except (StateConflict, NotFound) as exc:
            self.app.stderr.write(f"refused: {exc}\n")
            self._status = exitcodes.REFUSED
            return COLUMNS, _row(store.tombstones.get(parsed_args.tombstone)) if isinstance(
                exc, StateConflict
            ) else ("",) * len(COLUMNS)
        AuditTrail.from_conf(store, conf).append(
            action=AuditAction.UPDATE,
            outcome=AuditOutcome.SUCCESS,
            target=AuditTarget.for_identity(t.identity),
            reason=f"held plan {t.plan_hash} approved by operator {getpass.getuser()}",
            tombstone_id=t.id,
            plan_hash=t.plan_hash,
        )
        self._status = exitcodes.OK
        return COLUMNS, _row(t)

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return getattr(self, "_status", exitcodes.OK)
