"""What changed since the plan was shown, from one fresh discovery.

``apply`` runs exactly the plan that was shown, but the cloud moves on: a
resource may be gone already, handed to another project, or tagged
``reaper:keep`` since. One fresh discovery (a listing per type, the same
requests as ``plan``) and one evaluation with the same policies answer that
for every step at once, before anything runs, and fail closed:

* listed again and now protected or skipped by the policies -> PROTECTED;
* returned for the owner filter but no longer owned -> OWNER_CHANGED;
* not listed, and its service answered completely -> GONE;
* not listed, but its service's answer was incomplete -> PRESENT (let the
  step try: a 404 then says gone for sure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reaper import planner
from reaper.actions.runner import Prechecker
from reaper.cleanup.decide import decide
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.executor import Precheck
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory
from reaper.model import Decision, Plan, Resource, ResourceRef, Step, Verdict, trigger_name
from reaper.policy import PolicySet

#: Types that are never listed (a quota set always exists; so does any ``*.quota``).
ALWAYS_PRESENT = frozenset({"compute.quota", "block_storage.quota", "network.quota"})


def precheck(
    steps: Sequence[Step],
    inventory: Inventory,
    decisions: Sequence[Decision],
) -> dict[ResourceRef, Precheck]:
    """The state of every step's resource now, judged against the fresh inventory."""
    current: Mapping[ResourceRef, Resource] = {r.ref: r for r in inventory.resources}
    verdicts = {d.resource: d for d in decisions}
    moved = {r.ref for r in inventory.mismatches}
    incomplete_services = {f.handler for f in inventory.findings if f.errors or f.skipped}
    result: dict[ResourceRef, Precheck] = {}
    for step in steps:
        ref = step.resource
        if ref in result:
            continue
        if ref.type in ALWAYS_PRESENT or ref.type.endswith(".quota"):
            result[ref] = Precheck.PRESENT
        elif ref in moved:
            result[ref] = Precheck.OWNER_CHANGED
        elif ref in current:
            decision = verdicts.get(ref)
            still_acts = decision is not None and decision.verdict is Verdict.ACT
            result[ref] = Precheck.PRESENT if still_acts else Precheck.PROTECTED
        elif ref.service in incomplete_services:
            result[ref] = Precheck.PRESENT
        else:
            result[ref] = Precheck.GONE
    return result


def prechecker(
    cloud: Cloud, plan: Plan, policies: PolicySet, settings: Settings, scope: Scope
) -> Prechecker:
    """The executor's re-check for ``plan``: one fresh discovery of ``scope``, judged."""

    def check(steps: Sequence[Step], _: Any) -> Mapping[ResourceRef, Precheck]:
        fresh = cloud.inventory(scope)
        evaluation = decide(
            policies,
            fresh.resources,
            settings,
            trigger=plan.trigger or trigger_name(plan.identity.kind),
            identity=plan.identity,
        )
        decisions = planner.decisions_now(fresh.resources, evaluation.decisions, plan.steps)
        return precheck(steps, fresh, decisions)

    return check
