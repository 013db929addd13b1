"""Protection and refusals spread along the edges until nothing changes, failing closed.

* a subnet of a protected network, an interface of a protected router and an
  RBAC entry of a protected network are protected too (*containment*,
  :data:`~reaper.planner.relations.CONTAINED_IN`);
* a resource whose removal needs another one gone first (its snapshot, a
  port on its subnet, a protected server it is attached to) is skipped when
  that other one stays, instead of failing half-way at run time; a Heat
  stack stays when a resource it created stays (Heat would delete it);
* what a staying resource uses stays too.

Volumes attached to a server that goes are settled by :mod:`reaper.attachments`:
Nova deletes those attached with ``delete_on_termination``, so a volume that
stays is detached first (a step the server's removal waits for), or, as a
root volume that cannot be detached, keeps its server.
"""

from __future__ import annotations

from collections.abc import Mapping

from reaper import attachments
from reaper.attachments import ATTACHMENT
from reaper.model import Decision, Resource, ResourceRef, Verdict
from reaper.planner.relations import CONTAINED_IN, HELD_BY, SOURCE_FIRST, TARGET_FIRST


def removes(decision: Decision | None, removal_actions: frozenset[str]) -> bool:
    """Whether ``decision`` removes its resource (ACT with a removal action)."""
    return decision is not None and decision.removes(removal_actions)


def propagate(
    by_ref: Mapping[ResourceRef, Resource],
    decided: Mapping[ResourceRef, Decision],
    removal_actions: frozenset[str],
) -> dict[ResourceRef, Decision]:
    """Apply containment and blocking until nothing changes (fail closed)."""
    result = dict(decided)
    changed = True
    while changed:
        changed = False
        for ref, resource in sorted(by_ref.items()):
            decision = result[ref]
            for edge in resource.edges:
                target = result.get(edge.target)
                if target is None:
                    continue
                if (
                    (resource.type, edge.relation) in CONTAINED_IN
                    and target.verdict is Verdict.PROTECT
                    and decision.verdict is not Verdict.PROTECT
                ):
                    result[ref] = decision = _demote(
                        decision,
                        Verdict.PROTECT,
                        f"inside protected {edge.target}: {target.reason}",
                        target,
                    )
                    changed = True
                if not removes(decision, removal_actions):
                    continue
                if edge.relation in TARGET_FIRST | HELD_BY and not removes(target, removal_actions):
                    if resource.type == ATTACHMENT and target.verdict is not Verdict.PROTECT:
                        continue  # a live, unprotected server: detach through Nova
                    result[ref] = decision = _demote(
                        decision,
                        Verdict.SKIP,
                        f"in use by {edge.target}, which stays ({target.verdict.value})",
                        target,
                    )
                    changed = True
            if resource.type == ATTACHMENT and attachments.settle(
                ref, resource, result, removal_actions
            ):
                changed = True
                decision = result[ref]
            if removes(decision, removal_actions):
                continue
            # ``ref`` stays, so what it uses cannot be removed either.
            for edge in resource.edges:
                if edge.relation not in SOURCE_FIRST:
                    continue
                target = result.get(edge.target)
                if removes(target, removal_actions):
                    assert target is not None
                    result[edge.target] = _demote(
                        target,
                        Verdict.SKIP,
                        f"still used by {ref}, which stays ({decision.verdict.value})",
                        decision,
                    )
                    changed = True
    return result


def _demote(decision: Decision, verdict: Verdict, reason: str, cause: Decision) -> Decision:
    return decision.demoted(verdict, reason, cause)
