"""``reaper tombstone list|show`` and ``reaper approve``: the controller's work, for operators.

A ``waiting`` tombstone keeps what live projects use: ``tombstone show``
says how many and for whom (``Waiting For``; a list under ``-f json``), and
``tombstone show ID --waiting`` lists each kept resource with the live
project and what of it uses the resource (``reaper release`` ends a wait).
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Sequence
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from reaper import reclaim
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import waiting, waitlist
from reaper.cleanup.seams import Cloud
from reaper.cli import exitcodes
from reaper.cli.cells import when
from reaper.cli.plan import COLUMNS as PLAN_COLUMNS
from reaper.cli.plan import rows as plan_rows
from reaper.cli.plan import summary
from reaper.model import Tombstone, TombstoneState
from reaper.store import NotFound, StateConflict, Store

COLUMNS = ("ID", "Identity", "State", "Attempts", "Next Attempt", "Updated", "Reason")
#: ``tombstone list --long`` adds these (OSC's convention: the list fits a terminal,
#: ``--long`` has what a closer look needs).
LONG_COLUMNS = ("Created", "Plan", "Claimed By", "Triggers")
WAITING_COLUMNS = ("Type", "ID", "Name", "Live Project", "Used Through", "Reason")
STRUCTURED = ("json", "yaml")


def waiting_rows(kept: tuple[waiting.Kept, ...]) -> list[tuple[Any, ...]]:
    """One row per use of each kept resource (one row, users blank, for a contained one)."""
    rows: list[tuple[Any, ...]] = []
    for k in kept:
        uses = [u for u in k.users if u.get("kind") != "grant"] or list(k.users) or [{}]
        for use in uses:
            rows.append(
                (
                    k.ref.type,
                    k.ref.id,
                    k.name or "",
                    use.get("project_id", ""),
                    use.get("detail", ""),
                    k.reason,
                )
            )
    return rows


def _row(t: Tombstone) -> tuple[Any, ...]:
    return (
        t.id,
        str(t.identity),
        t.state.value,
        t.attempts,
        when(t.next_attempt_at),
        when(t.updated_at),
        t.reason,
    )


def _long(t: Tombstone) -> tuple[Any, ...]:
    return (when(t.created_at), t.plan_hash or "", t.claimed_by or "", len(t.triggers))


class TombstoneList(Lister):
    """List tombstones (most recently updated first), optionally by state."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--state",
            action="append",
            choices=[s.value for s in TombstoneState],
            help="Only tombstones in this state (repeatable).",
        )
        parser.add_argument("--limit", type=int, default=100, help="At most this many.")
        parser.add_argument(
            "--long",
            action="store_true",
            help="Also show when each was created, its plan, who holds it and its triggers.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        store = self.app.open_store()
        states = [TombstoneState(s) for s in parsed_args.state or ()]
        found = store.tombstones.list(states=states, limit=parsed_args.limit)
        if not parsed_args.long:
            return COLUMNS, [_row(t) for t in found]
        return (*COLUMNS, *LONG_COLUMNS), [(*_row(t), *_long(t)) for t in found]


class TombstoneShow(ShowOne):
    """Show one tombstone: its state, plan and every trigger that opened it."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("tombstone", metavar="ID", help="Tombstone id.")
        shown = parser.add_mutually_exclusive_group()
        shown.add_argument(
            "--plan",
            action="store_true",
            help="Show the stored plan this tombstone runs (the one approve releases), "
            "not the tombstone.",
        )
        shown.add_argument(
            "--waiting",
            action="store_true",
            help="List what a waiting tombstone keeps because live projects use it: each "
            "resource, the live project and what of it uses the resource.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        store = self.app.open_store()
        try:
            t = store.tombstones.get(parsed_args.tombstone)
        except NotFound:
            self.app.stderr.write(f"error: no tombstone {parsed_args.tombstone}\n")
            self._status = exitcodes.ERROR
            return (), ()
        self._status = exitcodes.OK
        self._plan = None
        self._waiting: list[tuple[Any, ...]] | None = None
        waiter = waitlist.of(store, t) if t.state is TombstoneState.WAITING else None
        if parsed_args.waiting:
            self._waiting = waiting_rows(waiter.kept) if waiter else []
            return (), ()
        if parsed_args.plan:
            if not t.plan_hash:
                self.app.stderr.write(
                    f"error: tombstone {t.id} has no plan yet ({t.state.value})\n"
                )
                self._status = exitcodes.ERROR
                return (), ()
            self._plan = store.plans.load(t.plan_hash)
            return (), ()
        triggers = "\n".join(
            f"{tr.source.value} {tr.event_type or ''} {tr.message_id or ''}".strip()
            for tr in t.triggers
        )
        outcomes = store.plans.outcomes(t.plan_hash) if t.plan_hash else {}
        counts: dict[str, int] = {}
        for outcome in outcomes.values():
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        names = (
            *COLUMNS,
            "Plan",
            "Step Outcomes",
            "Claimed By",
            "Triggers",
            "Reclaimed",
            "Waiting For",
        )
        values = (
            *_row(t),
            t.plan_hash or "",
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
            t.claimed_by or "",
            triggers,
            _reclaimed(store, t.id),
            _waiting_for(waiter, structured=parsed_args.formatter in STRUCTURED),
        )
        return names, values

    def produce_output(self, parsed_args: argparse.Namespace, column_names, data) -> int:  # type: ignore[no-untyped-def]
        if self._status != exitcodes.OK:
            return 0
        if self._plan is None and self._waiting is None:
            return super().produce_output(parsed_args, column_names, data)
        formatter = self._formatter_plugins[parsed_args.formatter].obj
        emit_list = getattr(formatter, "emit_list", None)
        if emit_list is None:  # shell: key=value lines, not a table
            emit_list = self._formatter_plugins["value"].obj.emit_list
        if self._waiting is not None:
            emit_list(WAITING_COLUMNS, self._waiting, self.app.stdout, parsed_args)
            return 0
        assert self._plan is not None
        emit_list(PLAN_COLUMNS, plan_rows(self._plan), self.app.stdout, parsed_args)
        if parsed_args.formatter == "table":
            self.app.stdout.write(summary(self._plan))
        return 0

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return self._status


def _waiting_for(waiter: waitlist.Waiter | None, *, structured: bool) -> Any:
    """What a waiting tombstone keeps: one line each, or (``-f json|yaml``) a list."""
    kept = waiter.kept if waiter else ()
    if structured:
        return [k.as_dict() for k in kept]
    return "\n".join(f"{k.ref} ({k.name or '-'}): {k.reason}" for k in kept)


def _reclaimed(store: Store, tombstone_id: str) -> str:
    """What the project's cleanup gave back, as the services measured it (non-zero only)."""
    record = store.reclaim.get(tombstone_id)
    if record is None or record.after is None:
        return ""
    before, after = reclaim.Usage.from_dict(record.before), reclaim.Usage.from_dict(record.after)
    lines = [f"{name} {value}" for name, value in reclaim.reclaimed(before, after).items() if value]
    lines += [f"{service}: not measured ({why})" for service, why in after.unavailable.items()]
    return "\n".join(lines) or "nothing measurable"


class TombstoneRecheck(Lister):
    """Re-check waiting tombstones now, as each sweep does.

    For each (all waiting ones, or the ids given), one discovery of its
    identity: when a resource it keeps is gone or no live project uses it
    any more, it is sent round again for the controller to plan and reap
    (the next plan follows the first). Read only towards the cloud.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "tombstones", metavar="ID", nargs="*", help="Waiting tombstones (default: all)."
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        store = self.app.open_store()
        trail = AuditTrail.from_conf(store, self.app.conf)
        seams = Cloud.of(self.app.connect(read_only=True))
        wanted = set(parsed_args.tombstones)
        rows = []
        for waiter in waitlist.waiters(store):
            if wanted and waiter.tombstone.id not in wanted:
                continue
            woken = waitlist.recheck(store, trail, seams, waiter)
            now = woken or store.tombstones.get(waiter.tombstone.id)
            rows.append((now.id, str(now.identity), now.state.value, now.reason))
        missing = wanted - {r[0] for r in rows}
        for tid in sorted(missing):
            self.app.stderr.write(f"error: no waiting tombstone {tid}\n")
        self._status = exitcodes.ERROR if missing else exitcodes.OK
        return ("ID", "Identity", "State", "Reason"), rows

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return getattr(self, "_status", exitcodes.OK)


class Approve(ShowOne):
    """Release a tombstone held by a blast-radius limit (or by dry-run mode).

    The controller then executes the plan that was held, exactly, after
    asking Keystone again. The approval is audited with the operator's name.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR, exitcodes.REFUSED)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("tombstone", metavar="ID", help="Tombstone id (reaper tombstone list).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        conf = self.app.conf
        store = self.app.open_store()
        try:
            t = store.tombstones.transition(
                parsed_args.tombstone,
                TombstoneState.PLANNED,
                expected=[TombstoneState.HELD],
                reason=f"approved by {getpass.getuser()}",
                next_attempt_at=None,
            )
        except NotFound:
            # An unknown id is a typo, not a safety refusal: 1, as everywhere.
            self.app.stderr.write(f"error: no tombstone {parsed_args.tombstone}\n")
            self._status = exitcodes.ERROR
            return COLUMNS, ("",) * len(COLUMNS)
        except StateConflict as exc:
            self.app.stderr.write(f"refused: {exc}\n")
            self._status = exitcodes.REFUSED
            return COLUMNS, _row(store.tombstones.get(parsed_args.tombstone))
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
