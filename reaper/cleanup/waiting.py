"""Waiting: what a cleanup leaves because a live project uses it. Pure.

A deleted project's network shared with a live project L, on which L's
server has its port, is kept (the policies protect what a live project uses,
``reaper.inventory.liveuse``), and so are the RBAC entry granting that use
and what Neutron would refuse to delete without it (the subnet inside).
Everything else is removed now, quotas included. Then the tombstone is
neither ``complete`` ("complete" means nothing is left) nor ``failed``: it
is ``waiting``, and the sweep re-checks its kept resources, sending it round
again once no live project uses one of them (``reaper.cleanup.lifecycle``).

What is kept for live use, found two ways:

* when the plan is made: a decision that does not act, and that the
  policies took *because of* a live use (its reason says "in use by live
  project", or its protect rule names ``in_use_by_live_project`` or
  ``shared_with_live_project``); a subnet protected because its network is
  kept says so too (its reason carries the network's);
* when a step is about to run: an outcome :attr:`~OutcomeStatus.KEPT` (a
  409 whose user is a live project, or a dependency kept).

A resource protected for another reason (``reaper:keep``, a network shared
with everyone) is not waiting: nothing will change about it when a project
stops using it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reaper.inventory.base import IN_USE, SHARED, USED_BY
from reaper.model import Decision, Outcome, OutcomeStatus, Plan, ResourceRef, Verdict

#: How a decision kept for a live use says so (``reaper.inventory.base.live_users``).
LIVE_MARK = "in use by live project"


@dataclass(frozen=True)
class Kept:
    """One resource the cleanup leaves while a live project uses it, and why."""

    ref: ResourceRef
    name: str | None
    #: The uses found: ``{project_id, type, id, detail, kind}`` each (may be empty for a
    #: resource kept because what contains it is: its reason says which).
    users: tuple[Mapping[str, str], ...]
    reason: str
    #: The step that was not run (kept at execution time), if any.
    step_id: str | None = None
    #: Kept for a grant alone (a policy protecting ``shared_with_live_project``), not a use.
    for_grant: bool = False

    @property
    def projects(self) -> tuple[str, ...]:
        return tuple(sorted({str(u.get("project_id")) for u in self.users}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.ref.type,
            "id": self.ref.id,
            "name": self.name,
            "projects": list(self.projects),
            "used_by": [dict(u) for u in self.users],
            "reason": self.reason,
            "step": self.step_id,
        }


def kept_for_live_use(decision: Decision) -> bool:
    """Whether ``decision`` leaves its resource because a live project uses it."""
    if decision.verdict is Verdict.ACT:
        return False
    if LIVE_MARK in decision.reason:
        return True
    rule = decision.rule or ""
    return decision.verdict is Verdict.PROTECT and (IN_USE in rule or SHARED in rule)


def kept(plan: Plan, outcomes: Mapping[str, Outcome] | None = None) -> tuple[Kept, ...]:
    """What ``plan`` (and the outcomes of its run) leaves for live use, in plan order."""
    resources = {r.ref: r for r in plan.resources}
    found: dict[ResourceRef, Kept] = {}
    for decision in plan.decisions:
        if kept_for_live_use(decision):
            grant = LIVE_MARK not in decision.reason and SHARED in (decision.rule or "")
            found[decision.resource] = _kept(
                resources, decision.resource, decision.reason, for_grant=grant
            )
    steps = {s.id: s for s in plan.steps}
    for sid, outcome in sorted((outcomes or {}).items()):
        step = steps.get(sid)
        if step is None or outcome.status is not OutcomeStatus.KEPT:
            continue
        if step.resource not in found:
            kept_now = _kept(resources, step.resource, outcome.reason, sid)
            if outcome.used_by:  # who the service said uses it, as the step was about to run
                kept_now = dataclasses.replace(kept_now, users=tuple(map(dict, outcome.used_by)))
            found[step.resource] = kept_now
    order = {r.ref: i for i, r in enumerate(plan.resources)}
    return tuple(sorted(found.values(), key=lambda k: (order.get(k.ref, len(order)), k.ref)))


def _kept(
    resources: Mapping[ResourceRef, Any],
    ref: ResourceRef,
    reason: str,
    step: str | None = None,
    *,
    for_grant: bool = False,
) -> Kept:
    resource = resources.get(ref)
    attrs = resource.attributes if resource is not None else {}
    users = tuple(dict(u) for u in attrs.get(USED_BY) or ())
    name = resource.name if resource is not None else None
    return Kept(ref, name, users, reason, step, for_grant)


def summary(waits: Sequence[Kept]) -> str:
    """One line for the tombstone's reason: how many wait, for whom, and what comes next."""
    projects = sorted({p for k in waits for p in k.projects})
    examples = ", ".join(str(k.ref) for k in waits[:3])
    who = f" by live project{'s' if len(projects) > 1 else ''} {', '.join(projects)}"
    return (
        f"waiting: {len(waits)} kept while in use{who if projects else ''} "
        f"(e.g. {examples}); the sweep re-checks them (reaper tombstone show)"
    )


def still_used(waits: Sequence[Kept], fresh: Mapping[ResourceRef, Any]) -> tuple[Kept, ...]:
    """Which of ``waits`` a live project still uses, judged on a fresh discovery.

    ``fresh``: the resources discovered now, by ref. A kept resource no longer
    listed is not used any more (it is gone); one listed again is still used
    while a live project uses it (``in_use_by_live_project``; failing closed,
    a use that could not be checked counts), or, if a policy kept it for a
    grant alone, while the grant stands. A grant that outlives the use (the
    RBAC entry of a network L no longer has a port on) keeps nothing the
    default policy would keep. A resource kept because what contains
    it is kept (no users of its own) follows its container: still used while
    any other kept resource is.
    """
    used = []
    contained = []
    for k in waits:
        resource = fresh.get(k.ref)
        if resource is None:
            continue
        if not k.users:
            contained.append(k)
            continue
        attrs = resource.attributes
        if attrs.get(IN_USE) or (k.for_grant and attrs.get(SHARED)):
            used.append(k)
    if used:
        used += contained
    return tuple(sorted(used, key=lambda k: k.ref))
