"""The road every tombstone travels: verify -> discover -> decide -> plan.

The CLI (``reaper plan``/``apply``) and the controller call the same
functions here, so what an operator previews is what the service would do.
Execution and audit are separate stages (``executor.py``, ``audit/``)
that take the :class:`~reaper.model.Plan` this produces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from reaper import planner
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory, discover
from reaper.model import IdentityKind, IdentityRef, Plan, utcnow
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


def scope_for(identity: IdentityRef, known_projects: Iterable[str] = ()) -> Scope:
    """What to search for ``identity``.

    A deleted domain's projects cannot be asked of Keystone any more; the
    caller passes the ones reaper knows of (Keystone sends one
    ``project.deleted`` per project before ``domain.deleted``, so they
    normally have tombstones of their own already).
    """
    if identity.kind is IdentityKind.DOMAIN:
        return Scope(identity, project_ids=frozenset(known_projects))
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
    now: dt.datetime | None = None,
) -> Planned:
    """Verify ``identity`` with Keystone, find its resources and plan for them.

    Raises :class:`Refused` when the identity still exists (and is enabled,
    or disabled without ``disabled_ok``), and
    :class:`~reaper.verify.VerificationError` when Keystone cannot say.
    """
    from reaper.policy import EvaluationContext

    verification = verify(conn, identity)
    if not verification.allows(disabled_ok=disabled_ok):
        raise Refused(verification)
    now = now or utcnow()
    trigger = trigger_for(verification)
    inventory = discover(conn, scope_for(identity, known_projects))
    context = EvaluationContext(
        trigger=trigger,
        identity=identity,
        now=now,
        protected_project_ids=frozenset(protected_project_ids),
        protected_domain_ids=frozenset(protected_domain_ids),
        domain_id=verification.domain_id if verification.state is not IdentityState.GONE else None,
    )
    evaluation = policies.evaluate(inventory.resources, context)
    plan = planner.build_plan(
        identity,
        inventory.resources,
        evaluation.decisions,
        incomplete=inventory.incomplete,
        held=evaluation.held,
        policy_digest=policies.digest,
        now=now,
    )
    return Planned(plan=plan, verification=verification, inventory=inventory, trigger=trigger)
