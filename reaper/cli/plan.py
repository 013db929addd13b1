"""``reaper plan``: what reaper would do to a deleted identity's resources, and why.

Read-only by construction: the connection it uses refuses every mutating
request (see ``cloud.py``). The table shows, grouped by service, every
resource found, its verdict (act, skip, protect), the actions and the
policy and rule that decided, and the step numbers in execution order;
totals per service and anything that makes the plan incomplete or held
follow it. ``-o plan.json`` saves the content-hashed plan that ``reaper
apply`` executes exactly.
"""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Sequence
from typing import Any

from cliff.lister import Lister

from reaper import cloud
from reaper.audit import keys, plansig
from reaper.audit.trail import AuditTrail
from reaper.cleanup.operator import plan_for_operator
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, VerificationError
from reaper.cli import exitcodes
from reaper.cli.progress import discovery
from reaper.ids import IdFormats, option_name
from reaper.model import IdentityKind, IdentityRef, Plan, Verdict
from reaper.policy import configured_policy_paths, load_policies
from reaper.store import Store

COLUMNS = ("Service", "Type", "ID", "Name", "Verdict", "Actions", "Steps", "Policy", "Reason")


def add_identity_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--project", metavar="ID", help="A deleted project's id.")
    who.add_argument("--user", metavar="ID", help="A deleted user's id.")
    who.add_argument("--domain", metavar="ID", help="A deleted domain's id.")
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="Policy file or directory (repeatable); default: policy_paths of reaper.conf, "
        "else the shipped default policy.",
    )
    parser.add_argument(
        "--disabled-ok",
        action="store_true",
        help="Plan for an identity that is disabled rather than deleted (quarantine policies).",
    )
    add_allow_any_id(parser)


def add_allow_any_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-any-id",
        action="store_true",
        help="Accept an id in any format ([identity] *_id_pattern otherwise decide), and one "
        "that neither Keystone nor reaper ever knew and that owns nothing but quotas.",
    )


class BadIdentityArgument(ValueError):
    """An id on the command line that Keystone could not have made."""


def identity_from(args: argparse.Namespace, conf: Any) -> IdentityRef:
    """The identity the command names, refused unless its id is in Keystone's format.

    Raises :class:`BadIdentityArgument` (or :class:`reaper.ids.InvalidIdPattern`
    for a broken ``[identity]`` pattern), before anything is asked of a cloud.
    """
    formats = IdFormats.from_conf(conf)
    for kind in IdentityKind:
        value = getattr(args, kind.value, None)
        if value:
            problem = None if getattr(args, "allow_any_id", False) else formats.problem(kind, value)
            if problem is not None:
                raise BadIdentityArgument(
                    f"--{kind.value}: {problem}; give the id exactly as Keystone reported it "
                    f"(if this cloud's ids have another format, set [identity] "
                    f"{option_name(kind)} in reaper.conf, or pass --allow-any-id)"
                )
            return IdentityRef(kind, value)
    raise ValueError("one of --project, --user or --domain is required")


#: Resources every id has, whether Keystone ever made it or not: a quota API answers
#: its defaults for any project id. Finding only these proves nothing was owned.
_ANY_ID_HAS = ".quota"


def unheard_of(store: Store, plan: Plan, *, allow_any_id: bool = False) -> str | None:
    """Why ``plan`` is most likely for a mistyped id, or ``None``.

    Keystone answers 404 for an id it deleted and for one it never made; a
    plan of nothing but the default quotas any id has, for an identity the
    directory never saw alive, is the second case: three plausible steps for
    a typo. Unless ``--allow-any-id``, it is an error that says so.
    """
    if allow_any_id or any(not r.type.endswith(_ANY_ID_HAS) for r in plan.resources):
        return None
    if plan.incomplete:  # what was not inspected may exist: the plan says so itself (exit 5)
        return None
    if store.directory.get(plan.identity) is not None:
        return None
    kind, ident = plan.identity.kind.value, plan.identity.id
    return (
        f"nothing found for {kind} {ident}; Keystone has no record of it and reaper never saw "
        f"it alive (check the id; --allow-any-id plans for it anyway)"
    )


def rows(plan: Plan) -> list[tuple[Any, ...]]:
    """One row per resource, grouped by service, in execution order."""
    order = {s.id: i + 1 for i, s in enumerate(plan.steps)}
    steps_of: dict[Any, list[int]] = collections.defaultdict(list)
    for step in plan.steps:
        steps_of[step.resource].append(order[step.id])
    decisions = {d.resource: d for d in plan.decisions}
    table = []
    for resource in plan.resources:
        decision = decisions[resource.ref]
        actions = ", ".join(
            a.name + (f" (after {_duration(a.after.total_seconds())})" if a.after else "")
            for a in decision.actions
        )
        numbers = sorted(steps_of.get(resource.ref, []))
        # The reason already quotes the rule; the column names who decided.
        policy = decision.policy or decision.rule or ""
        table.append(
            (
                resource.service,
                resource.type.split(".", 1)[1],
                resource.id,
                resource.name or "",
                decision.verdict.value,
                actions or "-",
                ",".join(map(str, numbers)) or "-",
                policy or "-",
                decision.reason,
            )
        )
    first_step = {r[2]: (int(r[6].split(",")[0]) if r[6] != "-" else 10**9) for r in table}
    table.sort(key=lambda r: (r[0], first_step[r[2]], r[1], r[2]))
    return table


def summary(plan: Plan) -> str:
    """Totals per service, then what would make an operator stop and look."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    decisions = {d.resource: d for d in plan.decisions}
    for resource in plan.resources:
        counts[resource.service][decisions[resource.ref].verdict.value] += 1
    lines = [f"Plan {plan.content_hash[:16]} for {plan.identity}: {len(plan.steps)} steps"]
    for service in sorted(counts):
        c = counts[service]
        lines.append(
            f"  {service:<14} {sum(c.values()):>5} found, {c[Verdict.ACT.value]:>5} act, "
            f"{c[Verdict.SKIP.value]:>5} skip, {c[Verdict.PROTECT.value]:>5} protect"
        )
    for reason in plan.incomplete:
        lines.append(f"  INCOMPLETE: {reason}")
    for reason in plan.held:
        lines.append(f"  HELD for approval: {reason}")
    return "\n".join(lines) + "\n"


class PlanCommand(Lister):
    """Show what reaper would do to a deleted project, user or domain, and why.

    Nothing is changed: the cloud connection refuses mutating requests.
    With -o - stdout carries only the plan's JSON (the table goes to stderr).
    """

    _epilog = exitcodes.epilog(
        exitcodes.OK, exitcodes.ERROR, exitcodes.HELD, exitcodes.REFUSED, exitcodes.INCOMPLETE
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_identity_arguments(parser)
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="Save the plan (content-hashed JSON, signed with the audit signing key when one "
            "is configured) for `reaper apply`; '-' for stdout.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        self._status = exitcodes.OK
        conf = self.app.conf
        try:
            identity = identity_from(parsed_args, conf)
        except ValueError as exc:
            self.app.stderr.write(f"error: {exc}\n")
            self._status = exitcodes.ERROR
            return COLUMNS, []
        policies = load_policies(parsed_args.policy or configured_policy_paths(conf))
        conn = self.app.connect(read_only=True)
        store = self.app.open_store(create=True)
        trail = AuditTrail.from_conf(store, conf)
        try:
            with discovery(self.app):
                planned = plan_for_operator(
                    Cloud.of(conn),
                    identity,
                    policies,
                    Settings.from_conf(conf),
                    store=store,
                    trail=trail,
                    disabled_ok=parsed_args.disabled_ok,
                )
        except Refused as exc:
            self.app.stderr.write(f"refused: {exc}\n")
            self._status = exitcodes.REFUSED
            return COLUMNS, []
        except VerificationError as exc:
            self.app.stderr.write(f"error: {self.app.keystone_error(exc, conn)}\n")
            self._status = exitcodes.ERROR
            return COLUMNS, []
        plan = planned.plan
        unheard = unheard_of(store, plan, allow_any_id=parsed_args.allow_any_id)
        if unheard is not None:
            self.app.stderr.write(f"error: {unheard}\n")
            self._status = exitcodes.ERROR
            return COLUMNS, []
        self._plan = plan
        if parsed_args.output:
            write_plan(plan, parsed_args.output, self.app, signer=trail.signer)
        counter = cloud.counter_of(conn)
        self.app.stderr.write(f"{counter.total} read-only requests ({counter.mutating} mutating)\n")
        if plan.held:
            self._status = exitcodes.HELD
        elif plan.incomplete:
            self._status = exitcodes.INCOMPLETE
        return COLUMNS, rows(plan)

    def produce_output(self, parsed_args: argparse.Namespace, column_names, data) -> int:  # type: ignore[no-untyped-def]
        if parsed_args.output != "-":
            return self._produce(parsed_args, column_names, data)
        # stdout carries only the plan (`reaper plan -o - > p.json`); the table is for eyes.
        stdout, self.app.stdout = self.app.stdout, self.app.stderr
        try:
            return self._produce(parsed_args, column_names, data)
        finally:
            self.app.stdout = stdout

    def _produce(self, parsed_args: argparse.Namespace, column_names, data) -> int:  # type: ignore[no-untyped-def]
        super().produce_output(parsed_args, column_names, data)
        plan = getattr(self, "_plan", None)
        if plan is not None and parsed_args.formatter == "table":
            self.app.stdout.write(summary(plan))
        elif plan is not None:
            # stdout is data for a program; why the exit status is not 0 goes beside it.
            for reason in plan.incomplete:
                self.app.stderr.write(f"INCOMPLETE: {reason}\n")
            for reason in plan.held:
                self.app.stderr.write(f"HELD for approval: {reason}\n")
        return 0

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return self._status


def configured_signer(conf: Any) -> keys.Signer | None:
    """The ``[audit] signing_key_file`` key that signs plan files, if one is set."""
    path = conf.audit.signing_key_file
    return keys.load_signer(path) if path else None


def write_plan(plan: Plan, output: str, app: Any, *, signer: keys.Signer | None = None) -> None:
    """The content-hashed JSON ``reaper apply`` takes, to a file or (``-``) stdout.

    Signed with ``signer`` (the ``[audit] signing_key_file`` key) when there is
    one: ``apply`` then refuses any edit of the file, rehashed or not.
    """
    data = plan.to_dict()
    if signer is not None:
        data = plansig.sign(data, signer)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if output == "-":
        app.stdout.write(text)
        app.stdout.flush()
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        app.stderr.write(f"plan saved to {output}\n")


def _duration(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
