"""Load balancers (Octavia): load balancers, listeners, pools, health monitors, quotas.

Octavia filters every listing by ``project_id`` for an admin, and each item
carries its project, so the owner re-check is the usual one. A load
balancer is removed with ``cascade=true``, which takes its listeners,
pools, members and health monitors along: those are reported (and
protected with their load balancer) but need no step of their own unless
their load balancer stays (a partial state: the policies may still remove
them one by one).

A load balancer holds a VIP port in its project's network (and, with
amphorae, ports in its members' subnets) until it is deleted: Neutron
refuses to delete that network meanwhile. The edges say so: the load
balancer goes before its VIP network and subnet, and its VIP port (found by
the network handler, ``device_owner = Octavia``) goes with it.
"""

from __future__ import annotations

from typing import Any

from openstack.load_balancer.v2 import health_monitor, listener, load_balancer, pool

from reaper.inventory.base import (
    Collector,
    Finding,
    Handler,
    ResourceType,
    Scope,
    gather,
    resource_from_sdk,
)
from reaper.inventory.compute import quota_resource
from reaper.model import Edge, IdentityKind, ResourceRef

LOAD_BALANCER = ResourceType.from_sdk(
    "load_balancer.load_balancer",
    load_balancer.LoadBalancer,
    description="An Octavia load balancer; deleted with cascade (listeners, pools, members, "
    "health monitors), before its VIP network.",
)
LISTENER = ResourceType.from_sdk(
    "load_balancer.listener",
    listener.Listener,
    description="A listener; goes with its load balancer's cascade deletion.",
)
POOL = ResourceType.from_sdk(
    "load_balancer.pool",
    pool.Pool,
    description="A pool (with its members); goes with its load balancer's cascade deletion.",
)
HEALTH_MONITOR = ResourceType.from_sdk(
    "load_balancer.health_monitor",
    health_monitor.HealthMonitor,
    description="A health monitor; goes with its load balancer's cascade deletion.",
)
QUOTA = ResourceType(
    "load_balancer.quota",
    description="The project's Octavia quotas; releasing them restores the defaults.",
)
#: Octavia's children name their load balancer(s) in lists of ``{"id": ...}``.
RELATION = "load_balancer"


class LoadBalancerInventory(Handler):
    service_type = "load-balancer"
    optional = True
    types = (LOAD_BALANCER, LISTENER, POOL, HEALTH_MONITOR, QUOTA)

    def discover(self, conn: Any, scope: Scope) -> Finding:
        lb = conn.load_balancer
        found = Collector("load_balancer", scope)
        for pid in sorted(scope.project_ids):
            listed = gather(
                {
                    "load_balancers": lambda pid=pid: list(lb.load_balancers(project_id=pid)),
                    "listeners": lambda pid=pid: list(lb.listeners(project_id=pid)),
                    "pools": lambda pid=pid: list(lb.pools(project_id=pid)),
                    "health_monitors": lambda pid=pid: list(lb.health_monitors(project_id=pid)),
                }
            )
            _collect(found, listed)
            if scope.identity.kind is not IdentityKind.USER:
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()


def _collect(found: Collector, listed: dict[str, list[Any]]) -> None:
    for item in listed["load_balancers"]:
        edges = []
        if item.vip_network_id:
            edges.append(Edge("network", ResourceRef("network.network", item.vip_network_id)))
        if item.vip_subnet_id:
            edges.append(Edge("subnet", ResourceRef("network.subnet", item.vip_subnet_id)))
        found.add(
            LOAD_BALANCER,
            resource_from_sdk(LOAD_BALANCER, item, edges=edges, status=item.provisioning_status),
        )
    pools_of: dict[str, list[str]] = {}
    for item in listed["pools"]:
        pools_of[item.id] = _ids(item.loadbalancers)
    children = (
        (LISTENER, listed["listeners"], lambda x: _ids(x.load_balancers)),
        (POOL, listed["pools"], lambda x: _ids(x.loadbalancers)),
        (
            HEALTH_MONITOR,
            listed["health_monitors"],
            lambda x: sorted({lb for p in _ids(x.pools) for lb in pools_of.get(p, ())}),
        ),
    )
    for rtype, items, owners in children:
        for item in items:
            edges = [Edge(RELATION, ResourceRef(LOAD_BALANCER.name, i)) for i in owners(item)]
            found.add(
                rtype,
                resource_from_sdk(rtype, item, edges=edges, status=item.provisioning_status),
            )


def _ids(items: Any) -> list[str]:
    return sorted(str(i["id"]) for i in items or () if isinstance(i, dict) and i.get("id"))
