"""A plan's steps as a DAG: checked, ordered, grouped in waves, and when each is due.

Pure functions of the steps; the road and the audit observer read a plan through
them. :func:`toposort` breaks ties with a caller's key, so the same steps
always come out in the same order.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from reaper.model import Plan, Step


class PlanError(ValueError):
    """The steps do not form a DAG (a cycle, or a dependency on a missing step)."""


def waves(steps: Sequence[Step]) -> list[list[Step]]:
    """Steps grouped by depth: each wave depends only on earlier waves."""
    depth: dict[str, int] = {}
    by_id = {s.id: s for s in steps}
    for step in validate(steps):
        depth[step.id] = 1 + max((depth[d] for d in by_id[step.id].depends_on), default=-1)
    grouped: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        grouped[depth[step.id]].append(step)
    return [grouped[i] for i in sorted(grouped)]


def due_at(plan: Plan, step_id: str) -> dt.datetime:
    """When a step may run: the end of the longest grace period on its path."""
    by_id = {s.id: s for s in plan.steps}
    longest: dict[str, dt.timedelta] = {}

    def grace(sid: str) -> dt.timedelta:
        if sid not in longest:
            step = by_id[sid]
            own = step.after or dt.timedelta(0)
            longest[sid] = max([own, *(grace(d) for d in step.depends_on)])
        return longest[sid]

    return plan.created_at + grace(step_id)


def validate(steps: Sequence[Step]) -> list[Step]:
    """``steps`` in a dependency-respecting order; :class:`PlanError` if impossible."""
    by_id: dict[str, Step] = {}
    for step in steps:
        if step.id in by_id:
            raise PlanError(f"step {step.id} appears twice")
        by_id[step.id] = step
    for step in steps:
        for dep in step.depends_on:
            if dep not in by_id:
                raise PlanError(f"step {step.id} depends on {dep}, which is not in the plan")
    return toposort(steps, key=lambda s: s.id)


def toposort(steps: Sequence[Step], key: Callable[[Step], Any]) -> list[Step]:
    """``steps`` with each after its dependencies, ties broken by the smallest ``key``."""
    by_id = {s.id: s for s in steps}
    indegree = {s.id: 0 for s in steps}
    dependents: dict[str, list[str]] = defaultdict(list)
    for step in steps:
        for dep in step.depends_on:
            if dep not in by_id:
                raise PlanError(f"step {step.id} depends on {dep}, which is not in the plan")
            indegree[step.id] += 1
            dependents[dep].append(step.id)
    ready = [(key(s), s.id) for s in steps if indegree[s.id] == 0]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        _, sid = heapq.heappop(ready)
        ordered.append(by_id[sid])
        for nxt in dependents[sid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (key(by_id[nxt]), nxt))
    if len(ordered) != len(steps):
        stuck = sorted(sid for sid, n in indegree.items() if n > 0)
        raise PlanError(f"dependency cycle among steps: {', '.join(stuck[:10])}")
    return ordered
