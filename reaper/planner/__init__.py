"""Decisions plus dependency edges become a deterministic DAG of steps.

Real clouds refuse deletions in the wrong order: a floating IP keeps a router
interface in use, a snapshot keeps its volume, a port keeps its subnet, a
server keeps its volumes attached. The inventory records these facts as
edges (``Resource.edges``: *source* --relation--> *target*); the planner
turns them into step dependencies, and into refusals where a resource
cannot be removed because something it needs to lose first is staying.

One job per module, in the order :func:`build_plan` runs them:

:mod:`~reaper.planner.relations`
    which relation orders a removal which way, and the display order of types;
:mod:`~reaper.planner.propagate`
    protection and refusals spread along the edges, failing closed (with
    :mod:`reaper.attachments` settling volumes attached to a server that goes);
:mod:`~reaper.planner.steps`
    final decisions become steps, edges become their dependencies;
:mod:`~reaper.planner.dag`
    the steps checked and ordered as a DAG, grouped in waves, and when each is due.

This package's own functions assemble a :class:`~reaper.model.Plan`
(:func:`build_plan`) and re-decide a plan shown earlier against a fresh
discovery (:func:`decisions_now`). The result is sorted deterministically,
so the same inputs always give the same plan and the same content hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from reaper import attachments
from reaper.model import Decision, IdentityRef, Plan, Resource, Step, Verdict, utcnow
from reaper.planner.dag import PlanError, due_at, toposort, validate, waves
from reaper.planner.propagate import propagate
from reaper.planner.relations import (
    CARRIED,
    CONTAINED_IN,
    HELD_BY,
    REMOVAL_ACTIONS,
    SOURCE_FIRST,
    TARGET_FIRST,
    TYPE_RANK,
    rank,
)
from reaper.planner.steps import make_steps, step_id
from reaper.sealing import seal_resource

__all__ = [
    "CARRIED",
    "CONTAINED_IN",
    "HELD_BY",
    "REMOVAL_ACTIONS",
    "SOURCE_FIRST",
    "TARGET_FIRST",
    "TYPE_RANK",
    "PlanError",
    "build_plan",
    "decisions_now",
    "due_at",
    "step_id",
    "validate",
    "waves",
]


def build_plan(
    identity: IdentityRef,
    resources: Sequence[Resource],
    decisions: Sequence[Decision],
    *,
    incomplete: Iterable[str] = (),
    held: Iterable[str] = (),
    policy_digest: str | None = None,
    trigger: str = "",
    removal_actions: frozenset[str] = REMOVAL_ACTIONS,
    now: dt.datetime | None = None,
) -> Plan:
    """The plan for ``identity``: final decisions and their ordered steps."""
    by_ref = {r.ref: r for r in resources}
    decided = {d.resource: d for d in decisions}
    missing = [r.ref for r in resources if r.ref not in decided]
    if missing:
        raise PlanError(f"no decision for {', '.join(map(str, missing[:5]))}")
    decided = propagate(by_ref, decided, removal_actions)
    ordered = toposort(
        make_steps(by_ref, decided, removal_actions), key=lambda s: (rank(s.resource), s.id)
    )
    sorted_resources = sorted(resources, key=lambda r: rank(r.ref))
    return Plan(
        identity=identity,
        created_at=now or utcnow(),
        # Sealed again: a plan is written to files and the store whoever built its resources.
        resources=tuple(seal_resource(r) for r in sorted_resources),
        decisions=tuple(decided[r.ref] for r in sorted_resources),
        steps=tuple(ordered),
        incomplete=tuple(incomplete),
        held=tuple(held),
        policy_digest=policy_digest,
        trigger=trigger,
    )


def decisions_now(
    resources: Sequence[Resource],
    decisions: Sequence[Decision],
    shown: Sequence[Step],
    *,
    removal_actions: frozenset[str] = REMOVAL_ACTIONS,
) -> list[Decision]:
    """What a plan made now would decide, for re-checking the steps of a plan shown earlier.

    The policies' verdicts on a fresh discovery, propagated as :func:`build_plan`
    does (a snapshot kept since, a server kept for its root volume). A server
    the shown plan deletes although a plan made now would detach a volume
    from it first (the volume was tagged ``reaper:keep`` since) is kept: its
    step must not run without that detach, so the identity is to be planned
    again.
    """
    by_ref = {r.ref: r for r in resources}
    decided = propagate(by_ref, {d.resource: d for d in decisions}, removal_actions)
    planned = {s.id for s in shown}
    for ref, resource in sorted(by_ref.items()):
        server = attachments.detached_first(resource, decided, removal_actions)
        if server is None or step_id(attachments.DETACH, ref) in planned:
            continue
        decided[server] = decided[server].demoted(
            Verdict.SKIP,
            f"{ref} must now be detached before it goes ({decided[ref].reason}), "
            "and the plan shown has no such step: plan again",
            decided[server],
        )
    return [decided[r.ref] for r in resources]
