"""What a plan will do, shown before it is done; and the stored plans, shown exactly.

``apply`` prints :func:`step_table` before it asks for the typed id (and,
with ``--yes``, on stderr before the first step), so nobody confirms a
number of steps they have not seen: every step with what it acts on, whose
it is and why. ``reaper plan show HASH`` and ``reaper tombstone show ID
--plan`` print a plan the store holds (the one ``approve`` releases), not
a fresh plan with another hash.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import prettytable
from cliff.lister import Lister

from reaper.cli import exitcodes
from reaper.cli.plan import COLUMNS, configured_signer, rows, summary, write_plan
from reaper.model import Plan
from reaper.store import NotFound

STEP_COLUMNS = ("#", "Action", "Service", "Type", "ID", "Name", "Owner", "Why")


def step_rows(plan: Plan) -> list[tuple[Any, ...]]:
    """One row per step, in execution order: what, whose, why."""
    resources = {r.ref: r for r in plan.resources}
    table = []
    for index, step in enumerate(plan.steps, 1):
        resource = resources.get(step.resource)
        owner = ""
        if resource is not None:
            owner = resource.project_id or resource.user_id or ""
        table.append(
            (
                index,
                step.action,
                step.resource.type.split(".", 1)[0],
                step.resource.type.split(".", 1)[-1],
                step.resource.id,
                (resource.name if resource else None) or "",
                owner,
                step.reason,
            )
        )
    return table


def step_table(plan: Plan, *, max_reason: int = 60) -> str:
    """The steps as a text table, for a human about to confirm them."""
    table = prettytable.PrettyTable(STEP_COLUMNS)
    table.align = "l"
    for row in step_rows(plan):
        reason = row[-1]
        if len(reason) > max_reason:
            reason = reason[: max_reason - 1] + "…"
        table.add_row([*row[:-1], reason])
    return f"{table.get_string()}\n{summary(plan)}"


class PlanShow(Lister):
    """Show a plan the store holds, exactly: the one apply ran or approve will release."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "plan_hash",
            metavar="HASH",
            help="The full plan hash (reaper tombstone show, reaper audit show).",
        )
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="Also write the plan's content-hashed JSON there ('-' for stdout only).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        self._status = exitcodes.OK
        self._plan: Plan | None = None
        store = self.app.open_store()
        try:
            plan = store.plans.load(parsed_args.plan_hash)
        except NotFound:
            self.app.stderr.write(f"error: no plan {parsed_args.plan_hash} in the store\n")
            self._status = exitcodes.ERROR
            return COLUMNS, []
        finally:
            store.close()
        self._plan = plan
        if parsed_args.output:
            write_plan(plan, parsed_args.output, self.app, signer=configured_signer(self.app.conf))
        return COLUMNS, rows(plan)

    def produce_output(self, parsed_args: argparse.Namespace, column_names, data) -> int:  # type: ignore[no-untyped-def]
        if parsed_args.output == "-" or self._plan is None:
            return 0
        super().produce_output(parsed_args, column_names, data)
        if parsed_args.formatter == "table":
            self.app.stdout.write(summary(self._plan))
        return 0

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return self._status
