"""The road every tombstone travels: verify -> discover -> decide -> plan.

The CLI (``reaper plan``/``apply``) and the controller call the same
functions here, so what an operator previews is what the service would do.
Execution and audit are separate stages (``executor.py``, ``audit/``)
that take the :class:`~reaper.model.Plan` this produces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reaper import planner, recheck
from reaper.actions.runner import SdkRunner
from reaper.audit.observer import AuditObserver
from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.executor import Executor, Limits, Observer, Precheck, Report
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory, discover
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Outcome,
    Plan,
    Resource,
    ResourceRef,
    Step,
    Trigger,
    utcnow,
)
from reaper.store import Store
from reaper.verify import IdentityState, Verification, verify


class Refused(RuntimeError):
    """Keystone says the identity is still there: reaper must not touch it."""

    def __init__(self, verification: Verification) -> None:
        super().__init__(verification.refusal())
        self.verification = verification


@dataclasses.dataclass(frozen=True)
class Planned:
    """A plan and what it was built from, for display and audit."""

    plan: Plan
    verification: Verification
    inventory: Inventory
    trigger: str


def trigger_for(verification: Verification) -> str:
    """The policy trigger a verified identity state stands for."""
    state = "deleted" if verification.gone else "disabled"
    return f"identity.{verification.identity.kind.value}.{state}"


#: Why a domain's plan may hold nothing although its projects had resources.
DOMAIN_UNKNOWN = (
    "reaper has seen no project or user of this domain (their notifications came before "
    "reaper listened, or the store is new), so their resources are not in this plan: "
    "plan them with --project/--user, or let the sweep find them"
)


def domain_members(store: Store, identity: IdentityRef) -> tuple[list[str], list[str]]:
    """The projects and users reaper has seen in a domain (nothing for other kinds)."""
    if identity.kind is not IdentityKind.DOMAIN:
        return [], []
    known = store.directory.in_domain(identity.id)
    projects = [k.identity.id for k in known if k.identity.kind is IdentityKind.PROJECT]
    users = [k.identity.id for k in known if k.identity.kind is IdentityKind.USER]
    return projects, users


def scope_for(
    identity: IdentityRef, known_projects: Iterable[str] = (), known_users: Iterable[str] = ()
) -> Scope:
    """What to search for ``identity``.

    A deleted domain's projects cannot be asked of Keystone any more; the
    caller passes the ones reaper knows of (Keystone sends one
    ``project.deleted`` per project before ``domain.deleted``, so they
    normally have tombstones of their own already).
    """
    if identity.kind is IdentityKind.DOMAIN:
        return Scope(
            identity, project_ids=frozenset(known_projects), user_ids=frozenset(known_users)
        )
    return Scope.of(identity)


def make_plan(
    conn: Any,
    identity: IdentityRef,
    policies: Any,
    *,
    protected_project_ids: Iterable[str] = (),
    protected_domain_ids: Iterable[str] = (),
    disabled_ok: bool = False,
    known_projects: Iterable[str] = (),
    known_users: Iterable[str] = (),
    now: dt.datetime | None = None,
    verification: Verification | None = None,
    incomplete: Iterable[str] = (),
) -> Planned:
    """Verify ``identity`` with Keystone, find its resources and plan for them.

    Raises :class:`Refused` when the identity still exists (and is enabled,
    or disabled without ``disabled_ok``), and
    :class:`~reaper.verify.VerificationError` when Keystone cannot say.
    """
    from reaper.policy import EvaluationContext, evaluate

    # Before any request: a scope refuses owner filters no listing may use.
    scope = scope_for(identity, known_projects, known_users)
    verification = verification or verify(conn, identity)
    if not verification.allows(disabled_ok=disabled_ok):
        raise Refused(verification)
    now = now or utcnow()
    trigger = trigger_for(verification)
    inventory = discover(conn, scope)
    context = EvaluationContext(
        trigger=trigger,
        identity=identity,
        now=now,
        protected_project_ids=frozenset(protected_project_ids),
        protected_domain_ids=frozenset(protected_domain_ids),
        domain_id=verification.domain_id if verification.state is not IdentityState.GONE else None,
    )
    evaluation = evaluate(policies, inventory.resources, context)
    plan = planner.build_plan(
        identity,
        inventory.resources,
        evaluation.decisions,
        incomplete=(*inventory.incomplete, *incomplete),
        held=evaluation.held,
        policy_digest=policies.digest,
        trigger=trigger,
        now=now,
    )
    return Planned(plan=plan, verification=verification, inventory=inventory, trigger=trigger)


def plan_for_operator(
    conn: Any,
    identity: IdentityRef,
    policies: Any,
    *,
    conf: Any,
    store: Store,
    trail: AuditTrail,
    disabled_ok: bool = False,
) -> Planned:
    """``reaper plan``'s and ``reaper apply --project``'s path: plan, then audit it.

    The configured protection applies, and a domain is searched through the
    projects and users reaper has seen in it; when it has seen none, the
    plan says so rather than looking complete and empty. (The controller
    does not search a domain's members: they have tombstones of their own.)
    """
    projects, users = domain_members(store, identity)
    unknown = identity.kind is IdentityKind.DOMAIN and not (projects or users)
    planned = make_plan(
        conn,
        identity,
        policies,
        protected_project_ids=conf.protected_project_ids,
        protected_domain_ids=conf.protected_domain_ids,
        disabled_ok=disabled_ok,
        known_projects=projects,
        known_users=users,
        incomplete=[DOMAIN_UNKNOWN] if unknown else [],
    )
    audit_planned(trail, planned)
    return planned


def audit_planned(
    trail: AuditTrail,
    planned: Planned,
    *,
    tombstone_id: str | None = None,
    trigger: Trigger | None = None,
) -> None:
    """Record the verification, what discovery dropped or missed, every decision and the plan.

    One transaction: either the whole reasoning behind a plan is in the
    trail, or none of it is.
    """
    plan, identity = planned.plan, planned.plan.identity
    common: dict[str, Any] = {"tombstone_id": tombstone_id, "trigger": trigger}
    target = AuditTarget.for_identity(identity, name=planned.verification.name)
    resources = {r.ref: r for r in plan.resources}
    with trail.batch() as batch:
        batch.append(
            action=AuditAction.READ,
            outcome=AuditOutcome.SUCCESS,
            target=target,
            reason=f"Keystone says {identity} is {planned.verification.state.value}",
            **common,
        )
        for dropped in planned.inventory.mismatches:
            batch.append(
                action=AuditAction.LIST,
                outcome=AuditOutcome.FAILURE,
                target=AuditTarget.for_resource(dropped),
                reason=f"returned for {identity}'s owner filter but not owned by it: dropped",
                before=dropped,
                **common,
            )
        for reason in plan.incomplete:
            batch.append(
                action=AuditAction.LIST,
                outcome=AuditOutcome.FAILURE,
                target=target,
                reason=AuditReason.error(f"plan incomplete: {reason}"),
                **common,
            )
        for decision in plan.decisions:
            batch.append(
                action=AuditAction.EVALUATE,
                outcome=AuditOutcome.SUCCESS,
                target=AuditTarget.for_resource(resources[decision.resource]),
                reason=AuditReason.policy_match(
                    decision.policy or "-",
                    decision.rule,
                    f"{decision.verdict.value}: {decision.reason}",
                ),
                plan_hash=plan.content_hash,
                before=resources[decision.resource],
                extra={
                    "verdict": decision.verdict.value,
                    "actions": [a.name for a in decision.actions],
                },
                **common,
            )
        batch.append(
            action=AuditAction.EVALUATE,
            outcome=AuditOutcome.PENDING if plan.held else AuditOutcome.SUCCESS,
            target=target,
            reason=f"plan of {len(plan.steps)} steps for {len(plan.resources)} resources "
            f"({planned.trigger})",
            plan_hash=plan.content_hash,
            extra={
                "steps": len(plan.steps),
                "held": list(plan.held),
                "incomplete": list(plan.incomplete),
                "policy_digest": plan.policy_digest,
            },
            **common,
        )


def execute_plan(
    conn: Any,
    plan: Plan,
    policies: Any,
    *,
    store: Store,
    trail: AuditTrail,
    limits: Limits,
    dry_run: bool,
    tombstone_id: str | None = None,
    observers: Sequence[Observer] = (),
    protected_project_ids: Iterable[str] = (),
    protected_domain_ids: Iterable[str] = (),
    known_projects: Iterable[str] = (),
    known_users: Iterable[str] = (),
    only: Iterable[str] | None = None,
    recheck_first: bool = True,
    stop: threading.Event | None = None,
) -> Report:
    """Run ``plan`` (after a batched re-check of every step) and record everything.

    Steps already finished in an earlier run of the same plan are not run
    again; ``only`` restricts the run to some steps. ``recheck_first=False``
    skips the re-discovery for a plan made moments ago from a discovery of
    its own (the controller's path, where a second listing would only add
    latency); 404s still say what vanished in between.
    """
    from reaper.policy import EvaluationContext, evaluate

    if not dry_run:
        store.plans.save(plan)
    previous = {} if dry_run else store.plans.outcomes(plan.content_hash)

    def prechecker(steps: Sequence[Step], _: Any) -> Mapping[ResourceRef, Precheck]:
        fresh = discover(conn, scope_for(plan.identity, known_projects, known_users))
        context = EvaluationContext(
            trigger=plan.trigger or f"identity.{plan.identity.kind.value}.deleted",
            identity=plan.identity,
            protected_project_ids=frozenset(protected_project_ids),
            protected_domain_ids=frozenset(protected_domain_ids),
        )
        evaluation = evaluate(policies, fresh.resources, context)
        decisions = planner.decisions_now(fresh.resources, evaluation.decisions, plan.steps)
        return recheck.precheck(steps, fresh, decisions)

    audit = AuditObserver(trail, plan, tombstone_id=tombstone_id, dry_run=dry_run)
    executor = Executor(
        SdkRunner(
            conn,
            prechecker=prechecker if recheck_first else None,
            plan_hash=plan.content_hash,
        ),
        limits=limits,
        observer=Fanout([audit, *observers]),
        dry_run=dry_run,
    )
    return executor.execute(plan, previous=previous, only=only, stop=stop)


class Fanout:
    """One observer that tells several."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)

    def step_started(self, step: Step, resource: Resource | None) -> None:
        for observer in self.observers:
            observer.step_started(step, resource)

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        for observer in self.observers:
            observer.step_retrying(step, attempt, error, delay)

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        for observer in self.observers:
            observer.step_finished(step, outcome, resource)
