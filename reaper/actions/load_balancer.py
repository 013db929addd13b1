"""Deleting Octavia objects: a load balancer with ``cascade``, its children, quotas.

Octavia answers 204 and deletes in its worker (PENDING_DELETE, then gone),
so a deletion is confirmed by listing the project's objects of that kind.
An object in a PENDING_* state answers 409 (immutable), which the executor
retries until Octavia is done with it. Children (listeners, pools, health
monitors) are only deleted one by one when their load balancer stays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reaper.actions.outcomes import accepted, synchronous
from reaper.executor import Result
from reaper.model import Resource


def _load_balancer(conn: Any, r: Resource) -> Result:
    return accepted(
        lambda: conn.load_balancer.delete_load_balancer(r.id, ignore_missing=False, cascade=True)
    )


DELETERS: Mapping[str, Callable[[Any, Resource], Result]] = {
    "load_balancer.load_balancer": _load_balancer,
    "load_balancer.listener": lambda c, r: accepted(
        lambda: c.load_balancer.delete_listener(r.id, ignore_missing=False)
    ),
    "load_balancer.pool": lambda c, r: accepted(
        lambda: c.load_balancer.delete_pool(r.id, ignore_missing=False)
    ),
    "load_balancer.health_monitor": lambda c, r: accepted(
        lambda: c.load_balancer.delete_health_monitor(r.id, ignore_missing=False)
    ),
    "load_balancer.quota": lambda c, r: synchronous(
        lambda: c.load_balancer.delete_quota(r.id, ignore_missing=False)
    ),
}

#: One listing per type and project confirms the asynchronous deletions.
LISTINGS: Mapping[str, Callable[[Any, str | None], Any]] = {
    "load_balancer.load_balancer": lambda c, p: c.load_balancer.load_balancers(project_id=p),
    "load_balancer.listener": lambda c, p: c.load_balancer.listeners(project_id=p),
    "load_balancer.pool": lambda c, p: c.load_balancer.pools(project_id=p),
    "load_balancer.health_monitor": lambda c, p: c.load_balancer.health_monitors(project_id=p),
}
