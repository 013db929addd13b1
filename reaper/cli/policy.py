"""``reaper policy validate`` and ``reaper policy explain``.

Both are read-only and need no cloud: they load policy files against the
registered resource types and actions, exactly as the controller does, so
what validates here loads there.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from prettytable import PrettyTable

from reaper.cli import exitcodes
from reaper.inventory.uncovered import UNCOVERED
from reaper.policy import (
    PolicyError,
    configured_policy_paths,
    explain,
    load_policies,
    policy_files,
)
from reaper.policy.context import TRIGGERS
from reaper.policy.explain import COLUMNS, unknown_names


class PolicyValidate(Command):
    """Validate policy files: OK per file, or every error as FILE:LINE:COLUMN: MESSAGE.

    Each FILE (or directory) is validated as a policy set of its own, the way
    policy_paths would load it alone, so alternatives such as the shipped
    default.yaml and forensic.yaml can be checked in one run. Without FILE,
    the policies reaper.conf configures (policy_paths, else the shipped
    default) are validated together, as the controller loads them.
    Exits 1 when any file has an error.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "paths",
            nargs="*",
            metavar="FILE",
            help="Policy file, or directory of *.yaml files loaded together (repeatable).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        if parsed_args.paths:
            sets = [[path] for path in parsed_args.paths]
        else:
            sets = [configured_policy_paths(self.app.conf)]
        failed = False
        for paths in sets:
            failed = not self._validate(paths) or failed
        return 1 if failed else 0

    def _validate(self, paths: list[str]) -> bool:
        out = self.app.stdout
        files, _ = policy_files(paths)
        try:
            policies = load_policies(paths)
        except PolicyError as exc:
            bad = {e.file for e in exc.errors}
            for file in files:
                if file not in bad:
                    out.write(f"{file}: OK\n")
            for error in exc.errors:
                out.write(f"{error}\n")
            return False
        for file in files:
            out.write(f"{file}: OK\n")
        count = len(policies)
        self.app.stderr.write(
            f"{', '.join(paths)}: {count} polic{'y' if count == 1 else 'ies'}, "
            f"digest {policies.digest}\n"
        )
        return True


class PolicyExplain(Lister):
    """Explain what the policies do, per resource type and trigger, in evaluation order.

    For each pair: the configured protection, the protect rules that apply,
    then the policies that act, first match wins, with their filters,
    actions and grace periods. Without --policy, explains the policies
    reaper.conf configures (policy_paths), else the shipped default.

    The table has one section per resource type (rows for every type
    first) and fits 100 columns, or a narrower terminal, or --max-width,
    or with --fit-width the terminal's whole width: long cells are wrapped.
    --sort-column sorts the rows of each section (by Resource Type: the
    sections). -f json, yaml, csv and value keep one row per pair with
    every value in full.
    """

    #: The table's width when neither --max-width nor a narrower terminal says otherwise.
    WIDTH = 100

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="FILE",
            help="Policy file or directory to explain instead of the configured ones "
            "(repeatable, in evaluation order).",
        )
        parser.add_argument(
            "--resource-type",
            action="append",
            default=[],
            metavar="TYPE",
            help="Only this resource type, e.g. compute.server or 'network.*' (repeatable).",
        )
        parser.add_argument(
            "--trigger",
            action="append",
            default=[],
            metavar="TRIGGER",
            help="Only this trigger, e.g. identity.user.deleted or '*.deleted' (repeatable).",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Also list the (type, trigger) pairs no policy acts on (left out by default).",
        )
        return parser

    def take_action(
        self, parsed_args: argparse.Namespace
    ) -> tuple[Sequence[str], Iterable[Sequence[str]]]:
        conf = self.app.conf
        paths = parsed_args.policy or configured_policy_paths(conf)
        try:
            policies = load_policies(paths)
        except PolicyError as exc:
            for error in exc.errors:
                self.app.stderr.write(f"{error}\n")
            raise RuntimeError(
                f"{len(exc.errors)} error(s) in the policies; see reaper policy validate"
            ) from None
        problems = [
            *unknown_names(
                parsed_args.resource_type,
                [*policies.types, *UNCOVERED],
                what="--resource-type",
            ),
            *unknown_names(parsed_args.trigger, TRIGGERS, what="--trigger"),
        ]
        if problems:
            raise exitcodes.OperatorError("; ".join(problems))
        rows = explain(
            policies,
            resource_types=parsed_args.resource_type,
            triggers=parsed_args.trigger,
            protected_project_ids=conf.protected_project_ids,
            protected_domain_ids=conf.protected_domain_ids,
            acting_only=not parsed_args.all,
        )
        if not parsed_args.all:
            every = explain(
                policies, resource_types=parsed_args.resource_type, triggers=parsed_args.trigger
            )
            left_out = sum(1 for r in every if r.order == "-" and r.trigger != "*")
            if left_out:
                self.app.stderr.write(
                    f"{left_out} (type, trigger) pairs no policy acts on are left out "
                    "(--all lists them)\n"
                )
        return COLUMNS, [row.as_tuple() for row in rows]

    def produce_output(  # type: ignore[override]
        self,
        parsed_args: argparse.Namespace,
        column_names: Sequence[str],
        data: Iterable[Sequence[Any]],
    ) -> int:
        """A table per resource type, under its name, wrapped to the width (see the class)."""
        if parsed_args.formatter != "table" or parsed_args.columns:
            return super().produce_output(parsed_args, column_names, data)
        width = self._width(parsed_args)
        rows = sorted_rows(
            column_names,
            list(data),
            parsed_args.sort_columns,
            descending=parsed_args.sort_direction == "desc",
        )
        sections: dict[str, list[Sequence[Any]]] = {}
        for row in rows:  # each type once, where its first row is
            sections.setdefault(row[0], []).append(row[1:])
        out = self.app.stdout
        for n, (rtype, section) in enumerate(sections.items()):
            out.write(("\n" if n else "") + (f"{rtype}\n" if rtype != "*" else "every type\n"))
            out.write(fitted_table(column_names[1:], section, width) + "\n")
        return 0

    def _width(self, parsed_args: argparse.Namespace) -> int:
        """--max-width; else the display's whole width with --fit-width; else 100 or less."""
        if parsed_args.max_width > 0:
            return int(parsed_args.max_width)
        if parsed_args.fit_width:
            # The terminal's (or $COLUMNS'), wider than 100 too: what the operator asked.
            return shutil.get_terminal_size((self.WIDTH, 24)).columns
        stdout = self.app.stdout
        if hasattr(stdout, "isatty") and stdout.isatty():
            return min(self.WIDTH, shutil.get_terminal_size((self.WIDTH, 24)).columns)
        return self.WIDTH


def sorted_rows(
    columns: Sequence[str],
    rows: list[Sequence[Any]],
    sort_columns: Sequence[str],
    *,
    descending: bool = False,
) -> list[Sequence[Any]]:
    """``rows`` sorted as cliff's ``--sort-column`` sorts a list (first named column first).

    Names match as cliff matches them (case-insensitive, ``_`` for a space)
    and unknown names are ignored, as cliff ignores them. Numbers (the
    evaluation order) sort as numbers. Without ``sort_columns`` the rows keep
    their order: evaluation order, type by type.
    """
    normal = [c.lower().replace("_", " ") for c in columns]
    indexes = [
        normal.index(name.lower().replace("_", " "))
        for name in sort_columns
        if name.lower().replace("_", " ") in normal
    ]
    for index in reversed(indexes):
        rows = sorted(rows, key=lambda row, i=index: _sort_key(row[i]), reverse=descending)
    return rows


def _sort_key(value: Any) -> tuple[bool, int, int, str]:
    text = "" if value is None else str(value)
    return (value is None, 0 if text.isdigit() else 1, int(text) if text.isdigit() else 0, text)


#: Columns never wrapped (short, and a wrapped trigger name reads badly).
_KEPT_WHOLE = ("Trigger", "Order", "Limit")


def fitted_table(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> str:
    """``rows`` as a table at most ``width`` wide where it can be: long cells are wrapped.

    Trigger, Order and Limit keep their width (the trigger wraps too when
    the others would get less than 8 characters each); the others share
    what is left, each getting no more than it needs, so a short column is
    never wrapped to make room for a long one. Below 8 characters a column
    is not narrowed further (a very narrow width overflows rather than
    shreds).
    """
    natural = {
        c: max(
            len(line) for cell in (c, *(r[i] for r in rows)) for line in cell.split("\n") or [""]
        )
        for i, c in enumerate(columns)
    }
    whole = [c for c in columns if c in _KEPT_WHOLE]
    wrapped = [c for c in columns if c not in _KEPT_WHOLE]
    if width - 1 - 3 * len(columns) - sum(natural[c] for c in whole) < 8 * len(wrapped):
        whole = [c for c in whole if c != "Trigger"]  # too narrow: the trigger wraps too
        wrapped = [c for c in columns if c not in whole]
    left = width - 1 - 3 * len(columns) - sum(natural[c] for c in whole)
    wrapped.sort(key=natural.__getitem__)
    table = PrettyTable(list(columns))
    table.align = "l"
    for n, column in enumerate(wrapped):
        share = max(8, left // (len(wrapped) - n))
        table.max_width[column] = min(natural[column], share)
        left -= table.max_width[column]
    for row in rows:
        table.add_row(list(row))
    return table.get_string()
