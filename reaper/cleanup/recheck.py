"""What changed since the plan was shown, from one fresh discovery.

``apply`` runs exactly the plan that was shown, but the cloud moves on: a
resource may be gone already, handed to another project, or tagged
``reaper:keep`` since. And a plan file is only text: a step in it may name
something the deleted identity never owned. One fresh discovery (a listing
per type with the owner filters of the plan's scope, the same requests as
``plan``) and one evaluation with the same policies answer that for every
step at once, before anything runs, and fail closed:

* listed again and now kept because a live project uses it (a port on the
  network since the plan was made) -> InUseNow, with the planner's words
  and the uses: the step is kept, and the tombstone waits;
* listed again and now protected or skipped by the policies -> PROTECTED;
* returned for the owner filter but no longer owned -> OWNER_CHANGED;
* not listed, and its service answered completely -> GONE;
* not listed, and its service's answer was incomplete -> UNCHECKED: nothing
  says whose it is, so it does not run (blocked, tried again later).

Quota steps get no exception: the inventory lists a quota set for each
project of the scope, so a quota step naming any other project is
OWNER_CHANGED, and so is one whose project Keystone still knows (asked
again here, one request per project; an unanswered question is UNCHECKED).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reaper import planner
from reaper.actions.runner import Prechecker
from reaper.cleanup.decide import decide
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityCheck, VerificationError
from reaper.cleanup.waiting import kept_for_live_use
from reaper.executor import Checked, InUseNow, Precheck
from reaper.inventory.base import USED_BY, Scope
from reaper.inventory.discover import Inventory
from reaper.model import (
    Decision,
    IdentityKind,
    IdentityRef,
    Plan,
    Resource,
    ResourceRef,
    Step,
    Verdict,
    trigger_name,
)
from reaper.policy import PolicySet


def precheck(
    steps: Sequence[Step],
    inventory: Inventory,
    decisions: Sequence[Decision],
    *,
    projects_alive: Mapping[str, bool | None] | None = None,
) -> dict[ResourceRef, Checked]:
    """The state of every step's resource now, judged against the fresh inventory.

    ``projects_alive``: for each quota step's project, whether Keystone knows
    it now (``None``: it did not answer); a project missing from it counts
    as unanswered.
    """
    current: Mapping[ResourceRef, Resource] = {r.ref: r for r in inventory.resources}
    verdicts = {d.resource: d for d in decisions}
    moved = {r.ref for r in inventory.mismatches}
    incomplete_services = {
        f.handler.split(".", 1)[0] for f in inventory.findings if f.errors or f.skipped
    }
    alive = projects_alive or {}
    result: dict[ResourceRef, Checked] = {}
    for step in steps:
        ref = step.resource
        if ref in result:
            continue
        if is_quota(ref) and ref.id not in inventory.scope.project_ids:
            result[ref] = Precheck.OWNER_CHANGED  # another project's quotas: never the owner's
        elif is_quota(ref) and alive.get(ref.id, None) is not False:
            known = alive.get(ref.id)
            result[ref] = Precheck.OWNER_CHANGED if known else Precheck.UNCHECKED
        elif ref in moved:
            result[ref] = Precheck.OWNER_CHANGED
        elif ref in current:
            decision = verdicts.get(ref)
            still_acts = decision is not None and decision.verdict is Verdict.ACT
            if decision is not None and not still_acts and kept_for_live_use(decision):
                uses = current[ref].attributes.get(USED_BY) or ()
                result[ref] = InUseNow(decision.reason, tuple(dict(u) for u in uses))
            else:
                result[ref] = Precheck.PRESENT if still_acts else Precheck.PROTECTED
        elif ref.service in incomplete_services:
            result[ref] = Precheck.UNCHECKED
        else:
            result[ref] = Precheck.GONE
    return result


def is_quota(ref: ResourceRef) -> bool:
    """A project's quota set: named by the project, it has no id of its own."""
    return ref.type.endswith(".quota")


def quota_projects_alive(
    keystone: IdentityCheck, steps: Sequence[Step], scope: Scope
) -> dict[str, bool | None]:
    """For each quota step's project in ``scope``: does Keystone know it (None: no answer)?"""
    answers: dict[str, bool | None] = {}
    for pid in sorted({s.resource.id for s in steps if is_quota(s.resource)} & scope.project_ids):
        try:
            answers[pid] = not keystone(IdentityRef(IdentityKind.PROJECT, pid)).gone
        except VerificationError:
            answers[pid] = None
    return answers


def prechecker(
    cloud: Cloud, plan: Plan, policies: PolicySet, settings: Settings, scope: Scope
) -> Prechecker:
    """The executor's re-check for ``plan``: one fresh discovery of ``scope``, judged."""

    def check(steps: Sequence[Step], _: Any) -> Mapping[ResourceRef, Checked]:
        fresh = cloud.inventory(scope)
        evaluation = decide(
            policies,
            fresh.resources,
            settings.housed(cloud.house(settings.admin_project)),
            trigger=plan.trigger or trigger_name(plan.identity.kind),
            identity=plan.identity,
        )
        decisions = planner.decisions_now(fresh.resources, evaluation.decisions, plan.steps)
        alive = quota_projects_alive(cloud.keystone, steps, fresh.scope)
        return precheck(steps, fresh, decisions, projects_alive=alive)

    return check
