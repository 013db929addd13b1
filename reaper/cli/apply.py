"""``reaper apply``: execute exactly a plan that was shown, and report.

``reaper apply plan.json`` refuses a plan whose content no longer matches
its hash, or, when ``[audit] signing_key_file`` is set, whose signature by
that key does not verify or is missing (``--allow-unsigned`` accepts an
unsigned one), asks Keystone again that the identity is still gone, and asks the
operator to type the identity's id (unless ``--yes``). Just before the
first step, one fresh discovery re-checks every step at once: a resource
already gone is not touched again, one that changed owner or became
protected is skipped (fail closed). ``reaper apply --project ID`` plans
and applies in one go, with the same confirmation; with ``--yes`` there
is no pause between its own discovery and the first step, so, as in the
controller, that discovery is the check (a second one would only list the
same things again) and 404s say what vanished in between. ``reaper apply
--due`` runs deferred steps whose grace period has ended.

Exit status (``reaper.cli.exitcodes``): 0 every step done or already gone,
or kept because a live project was found using its resource when it ran
(the tombstone waits, as for a resource the plan kept);
2 something failed or was blocked; 3 the plan is held by a blast-radius
limit (``--approve`` to release it); 4 refused (the identity exists again,
an edited plan, or the confirmation failed); 6 some steps wait for their
grace period; 1 any other error.

:class:`ApplyCommand` is a little over 200 lines because it is the one flow
of the three ways in (a plan file, an identity, ``--due``), which share every
check in the same order; the checks themselves (the plan file's hash and
signature, Keystone again, the typed confirmation, the tombstone held) are in
``applychecks.py``, and the rows and exit status are functions below.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from cliff.lister import Lister

from reaper import cloud
from reaper.audit.trail import AuditTrail
from reaper.budget import BudgetSettings
from reaper.cleanup import discover
from reaper.cleanup.execute import execute_plan
from reaper.cleanup.operator import plan_for_operator
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, VerificationError
from reaper.cli import exitcodes
from reaper.cli.applychecks import Stop, claimed, confirm, load_plan, reverify
from reaper.cli.plan import add_allow_any_id, identity_from, unheard_of
from reaper.cli.progress import Progress, discovery, quiet, waits
from reaper.executor import Report
from reaper.model import OutcomeStatus, Plan
from reaper.parts import SharedBudget
from reaper.policy import PolicySet, configured_policy_paths, load_policies
from reaper.store import Store

COLUMNS = ("#", "Service", "Type", "ID", "Action", "Status", "Attempts", "Reason")


def report_rows(plan: Plan, report: Report) -> list[tuple[Any, ...]]:
    rows = []
    for index, step in enumerate(plan.steps, 1):
        outcome = report.outcomes.get(step.id)
        rows.append(
            (
                index,
                step.service,
                step.resource.type.split(".", 1)[1],
                step.resource.id,
                step.action,
                outcome.status.value if outcome else "-",
                outcome.attempts if outcome else 0,
                outcome.reason if outcome else "",
            )
        )
    return rows


def recheck_needed(args: argparse.Namespace) -> bool:
    """Whether time passed between the plan's discovery and its first step.

    A saved plan may be hours old, and a confirmation prompt waits on a
    human: both get a fresh discovery. A plan made by this very command and
    applied with ``--yes`` is seconds old: its discovery is the check.
    """
    return bool(args.plan_file) or not args.yes


def exit_status(report: Report) -> int:
    statuses = {o.status for o in report.outcomes.values()}
    if statuses & {OutcomeStatus.FAILED, OutcomeStatus.BLOCKED}:
        return exitcodes.FAILED
    if OutcomeStatus.HELD in statuses:
        return exitcodes.HELD
    if OutcomeStatus.DEFERRED in statuses:
        return exitcodes.DEFERRED
    if report.succeeded or (
        not report.interrupted
        and not report.dry_run
        and all(
            o.status.successful or o.status is OutcomeStatus.KEPT for o in report.outcomes.values()
        )
    ):
        return exitcodes.OK
    return exitcodes.FAILED


class ApplyCommand(Lister):
    """Execute exactly a saved plan (or plan and apply in one go), after confirmation.

    Every step is listed (what, whose, why) before the typed id is asked
    for; with --yes the same table goes to stderr before the first step.
    Steps deferred by a grace period run later with --due.
    """

    _epilog = exitcodes.epilog(
        exitcodes.OK,
        exitcodes.ERROR,
        exitcodes.FAILED,
        exitcodes.HELD,
        exitcodes.REFUSED,
        exitcodes.DEFERRED,
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "plan_file", nargs="?", metavar="PLAN", help="Plan saved by `reaper plan -o`."
        )
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--project", metavar="ID", help="Plan and apply for a deleted project.")
        who.add_argument("--user", metavar="ID", help="Plan and apply for a deleted user.")
        who.add_argument("--domain", metavar="ID", help="Plan and apply for a deleted domain.")
        who.add_argument("--due", action="store_true", help="Run deferred steps that are due.")
        parser.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="FILE",
            help="Policy file or directory (repeatable).",
        )
        parser.add_argument(
            "--disabled-ok", action="store_true", help="Allow a disabled (not deleted) identity."
        )
        add_allow_any_id(parser)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument(
            "--allow-unsigned",
            action="store_true",
            help="Apply a plan file that has no signature although [audit] signing_key_file "
            "is set (its content hash is still checked).",
        )
        parser.add_argument(
            "--approve", action="store_true", help="Release a plan held by a blast-radius limit."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Go through the executor with a read-only client.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        self._status = exitcodes.OK
        self._share: SharedBudget | None = None
        try:
            return self._apply(parsed_args)
        except Stop as stop:
            self.app.stderr.write(f"{stop}\n")
            self._status = stop.status
            return COLUMNS, []
        finally:
            if self._share is not None:
                self._share.stop()  # its cloud-wide request slots, given back

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return self._status

    def _apply(self, args: argparse.Namespace) -> tuple[Sequence[str], list]:
        conf = self.app.conf
        given = [bool(args.plan_file), bool(args.project or args.user or args.domain), args.due]
        if sum(given) != 1:
            raise Stop(
                "give exactly one of PLAN, --project/--user/--domain, or --due", exitcodes.ERROR
            )
        identity = None
        loaded = None
        if args.plan_file:
            # Before any connection: a forged or edited plan is refused as it is.
            loaded = load_plan(
                args.plan_file, conf, allow_unsigned=args.allow_unsigned, stderr=self.app.stderr
            )
        elif not args.due:
            try:
                identity = identity_from(args, conf)
            except ValueError as exc:
                raise Stop(f"error: {exc}", exitcodes.ERROR) from exc
        settings = Settings.from_conf(conf)
        policies = load_policies(args.policy or configured_policy_paths(conf))
        conn = self.app.connect(read_only=args.dry_run)
        seams = Cloud.of(conn)
        store = self.app.open_store(create=True)
        # Its requests count against the caps the controllers share (PostgreSQL, MariaDB).
        self._share = SharedBudget(BudgetSettings.from_conf(conf), store, settings.owner)
        self._share.start()
        trail = AuditTrail.from_conf(store, conf)
        if args.due:
            return self._due(seams, settings, store, trail, policies, args)
        if loaded is not None:
            plan = loaded
            self._reverify(seams, plan, args)
        else:
            assert identity is not None
            try:
                with discovery(self.app):
                    planned = plan_for_operator(
                        seams,
                        identity,
                        policies,
                        settings,
                        store=store,
                        trail=trail,
                        disabled_ok=args.disabled_ok,
                    )
            except Refused as exc:
                raise Stop(f"refused: {exc}", exitcodes.REFUSED) from exc
            except VerificationError as exc:
                message = self.app.keystone_error(exc, conn)
                raise Stop(f"error: {message}", exitcodes.ERROR) from exc
            plan = planned.plan
            unheard = unheard_of(store, plan, allow_any_id=args.allow_any_id)
            if unheard is not None:
                raise Stop(f"error: {unheard}", exitcodes.ERROR)
        if plan.held and not args.approve:
            reasons = "; ".join(plan.held)
            raise Stop(f"held for approval ({reasons}); rerun with --approve", exitcodes.HELD)
        confirm(
            plan,
            unattended=args.yes or args.dry_run,
            stdin=self.app.stdin,
            stderr=self.app.stderr,
        )
        self.app.stderr.write(
            f"{'dry-run of' if args.dry_run else 'applying'} plan {plan.content_hash[:16]}: "
            f"{len(plan.steps)} steps for {plan.identity}\n"
        )
        if not args.dry_run:
            store.plans.save(plan)  # the one copy its outcomes are recorded against
        shown = self._progress(plan, settings)
        with claimed(store, plan, settings, dry_run=args.dry_run) as halt, waits(self.app, shown):
            report = execute_plan(
                seams,
                plan,
                policies,
                settings,
                store=store,
                trail=trail,
                dry_run=args.dry_run,
                observers=[shown],
                scope=discover.operator_scope(store, plan.identity),
                recheck_first=recheck_needed(args),
                stop=halt,
                # Planned just now with the decisions (and before-images) audited here.
                decisions_recorded=loaded is None,
            )
        trail.checkpoint("apply")
        self._summarize(report, conn)
        self._status = exit_status(report)
        return COLUMNS, report_rows(plan, report)

    def _due(
        self,
        seams: Cloud,
        settings: Settings,
        store: Store,
        trail: AuditTrail,
        policies: PolicySet,
        args: argparse.Namespace,
    ) -> tuple[Sequence[str], list]:
        due = store.plans.due_deferred(limit=10_000)
        rows: list[tuple[Any, ...]] = []
        status = exitcodes.OK
        for plan_hash in sorted({d.plan_hash for d in due}):
            plan = store.plans.load(plan_hash)
            try:
                self._reverify(seams, plan, args)
            except Stop as stop:
                self.app.stderr.write(f"{plan.identity}: {stop}\n")
                status = max(status, stop.status)
                continue
            tombstone = next((d.tombstone_id for d in due if d.plan_hash == plan_hash), None)
            shown = self._progress(plan, settings)
            try:
                with (
                    claimed(store, plan, settings, dry_run=args.dry_run) as halt,
                    waits(self.app, shown),
                ):
                    report = execute_plan(
                        seams,
                        plan,
                        policies,
                        settings,
                        store=store,
                        trail=trail,
                        dry_run=args.dry_run,
                        tombstone_id=tombstone,
                        observers=[shown],
                        scope=discover.operator_scope(store, plan.identity),
                        stop=halt,
                    )
            except Stop as stop:
                self.app.stderr.write(f"{plan.identity}: {stop}\n")
                status = max(status, stop.status)
                continue
            rows += report_rows(plan, report)
            status = max(status, exit_status(report))
        if not due:
            self.app.stderr.write("no deferred step is due\n")
        trail.checkpoint("apply")
        self._status = status
        return COLUMNS, rows

    def _progress(self, plan: Plan, settings: Settings) -> Progress:
        return Progress(
            plan,
            self.app.stderr,
            attempts=settings.limits.retry_attempts,
            quiet=quiet(self.app),
        )

    def _reverify(self, seams: Cloud, plan: Plan, args: argparse.Namespace) -> None:
        reverify(seams, plan, disabled_ok=args.disabled_ok, keystone_error=self.app.keystone_error)

    def _summarize(self, report: Report, conn: Any) -> None:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items()))
        counter = cloud.counter_of(conn)
        self.app.stderr.write(
            f"outcome: {counts or 'nothing to do'}; {counter.total} requests "
            f"({', '.join(f'{m} {n}' for m, n in counter.by_method().items())})\n"
        )
