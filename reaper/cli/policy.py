"""``reaper policy validate`` and ``reaper policy explain``.

Both are read-only and need no cloud: they load policy files against the
registered resource types and actions, exactly as the controller does, so
what validates here loads there.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from cliff.command import Command
from cliff.lister import Lister

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
    """

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
