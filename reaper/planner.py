"""Decisions plus dependency edges become a deterministic DAG of steps.

Real clouds refuse deletions in the wrong order: a floating IP keeps a router
interface in use, a snapshot keeps its volume, a port keeps its subnet, a
server keeps its volumes attached. The inventory records these facts as
edges (``Resource.edges``: *source* --relation--> *target*); this module
turns them into step dependencies, and into refusals where a resource
cannot be removed because something it needs to lose first is staying.

Ordering of removals, per relation:

``uses`` relations (source removed **before** target)
    ``network``, ``subnet``, ``volume``, ``security_group``, ``router``,
    ``object`` (RBAC entry -> network), ``source_snapshot``.
``part-of`` relations (target removed **before** source)
    ``device`` (port -> server), ``server`` (volume attachment -> server),
    ``floating_ip`` (router interface -> each floating IP routed through
    that router: Neutron refuses to remove an interface a floating IP uses).

A Manila share's access rules, snapshots and replicas go before it (``share``), and
the share before its ``share_network`` and ``share_group``; its rules and replicas are
protected with it.

A Heat stack goes before the resources it ``created`` (Heat deletes them, in its order)
and stays when one of them stays (Heat would delete it); a stack whose deletion failed
waits for its ``leftover`` resources, which their own handlers remove first.

``account`` (Swift container -> its account: the account goes last) and
``segments`` (a container -> the one holding its large objects' segments) are
``uses`` relations too; a load balancer ``uses`` its VIP network and subnet, and
its VIP port is ``part-of`` it (``device``), so Neutron's steps wait for it. A
load balancer's listeners, pools and health monitors are *carried*: its
cascade deletion takes them, so they have no step of their own then.

Plus the rules no edge expresses: security groups wait for every server and
port removal (``default`` also for the other groups, last of all), and
quota releases wait for every other step.

Protection propagates, failing closed:

* a subnet of a protected network, an interface of a protected router and an
  RBAC entry of a protected network are protected too (*containment*);
* a resource whose removal needs another one gone first (its snapshot, a
  port on its subnet, a protected server it is attached to) is skipped when
  that other one stays, instead of failing half-way at run time.

Volumes attached to a server that goes are settled by :mod:`reaper.attachments`:
Nova deletes those attached with ``delete_on_termination``, so a volume that
stays is detached first (a step the server's removal waits for), or, as a
root volume that cannot be detached, keeps its server.
Several actions on one resource run in the order the policy lists them.
The result is sorted deterministically, so the same inputs always give the
same plan and the same content hash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from reaper import attachments
from reaper.attachments import ATTACHMENT
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityRef,
    Plan,
    Resource,
    ResourceRef,
    Step,
    Verdict,
    utcnow,
)
from reaper.sealing import seal_resource

SOURCE_FIRST = frozenset(
    {
        "network",
        "subnet",
        "volume",
        "security_group",
        "router",
        "object",
        "source_snapshot",
        "account",
        "segments",
        "share",
        "share_network",
        "share_group",
        "created",
    }
)
TARGET_FIRST = frozenset({"device", "server", "floating_ip", "leftover"})
#: source --relation--> target where the source is not removed while the target stays:
#: a Heat stack would delete a resource it created (``created``) that a policy keeps.
HELD_BY = frozenset({"created"})
#: source --relation--> target where the source is protected when the target is.
CONTAINED_IN = frozenset(
    {
        ("network.subnet", "network"),
        ("network.router_interface", "router"),
        ("network.rbac_policy", "object"),
        ("object_store.container", "account"),
        ("load_balancer.listener", "load_balancer"),
        ("load_balancer.pool", "load_balancer"),
        ("load_balancer.health_monitor", "load_balancer"),
        ("dns.zone_transfer_request", "zone"),
        ("shared_file_system.access_rule", "share"),
        ("shared_file_system.replica", "share"),
    }
)
#: source --relation--> target where removing the target removes the source: no step of
#: its own then (a load balancer's cascade deletion takes its listeners, pools, monitors).
CARRIED = frozenset(
    {
        ("load_balancer.listener", "load_balancer"),
        ("load_balancer.pool", "load_balancer"),
        ("load_balancer.health_monitor", "load_balancer"),
    }
)
REMOVAL_ACTIONS = frozenset({"delete"})

#: Display and tie-break order: roughly the order a human would clean up in.
TYPE_RANK: Mapping[str, int] = {
    "orchestration.stack": 3,
    "load_balancer.load_balancer": 5,
    "load_balancer.listener": 6,
    "load_balancer.pool": 7,
    "load_balancer.health_monitor": 8,
    "network.floating_ip": 10,
    "shared_file_system.access_rule": 12,
    "shared_file_system.snapshot": 13,
    "shared_file_system.replica": 14,
    "shared_file_system.share": 15,
    "shared_file_system.share_group": 16,
    "shared_file_system.share_network": 17,
    "compute.server": 20,
    "compute.volume_attachment": 25,
    "compute.server_group": 27,
    "placement.allocation": 29,
    "compute.keypair": 28,
    "block_storage.snapshot": 30,
    "block_storage.backup": 32,
    "block_storage.volume": 40,
    "network.router_interface": 50,
    "network.port": 55,
    "network.router": 60,
    "network.rbac_policy": 62,
    "network.subnet": 65,
    "network.network": 70,
    "network.security_group": 80,
    "image.member": 84,
    "image.image": 85,
    "object_store.container": 86,
    "object_store.account": 87,
    "dns.recordset": 88,
    "dns.zone_share": 88,
    "dns.zone_transfer_request": 88,
    "dns.zone": 89,
    "compute.quota": 98,
    "block_storage.quota": 98,
    "network.quota": 98,
    "load_balancer.quota": 98,
    "dns.quota": 98,
    "shared_file_system.quota": 98,
}


class PlanError(ValueError):
    """The steps do not form a DAG (a cycle, or a dependency on a missing step)."""


def step_id(action: str, ref: ResourceRef) -> str:
    return f"{action}:{ref.type}:{ref.id}"


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
    decided = _propagate(by_ref, decided, removal_actions)
    steps = _steps(by_ref, decided, removal_actions)
    ordered = _toposort(steps, key=lambda s: (_rank(s.resource), s.id))
    sorted_resources = sorted(resources, key=lambda r: _rank(r.ref))
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
    decided = _propagate(by_ref, {d.resource: d for d in decisions}, removal_actions)
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
    return _toposort(steps, key=lambda s: s.id)


def _removes(decision: Decision | None, removal_actions: frozenset[str]) -> bool:
    return decision is not None and decision.removes(removal_actions)


def _propagate(
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
                if not _removes(decision, removal_actions):
                    continue
                if edge.relation in TARGET_FIRST | HELD_BY and not _removes(
                    target, removal_actions
                ):
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
            if _removes(decision, removal_actions):
                continue
            # ``ref`` stays, so what it uses cannot be removed either.
            for edge in resource.edges:
                if edge.relation not in SOURCE_FIRST:
                    continue
                target = result.get(edge.target)
                if _removes(target, removal_actions):
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


def _steps(
    by_ref: Mapping[ResourceRef, Resource],
    decided: Mapping[ResourceRef, Decision],
    removal_actions: frozenset[str],
) -> list[Step]:
    steps: dict[str, Step] = {}
    removal_step: dict[ResourceRef, str] = {}
    #: Detaches that must finish before their server's removal, by the server's ref.
    detach_first: dict[ResourceRef, list[str]] = defaultdict(list)
    for ref in sorted(by_ref, key=_rank):
        decision = decided[ref]
        if decision.verdict is not Verdict.ACT:
            continue
        resource = by_ref[ref]
        if any(
            (resource.type, e.relation) in CARRIED
            and _removes(decided.get(e.target), removal_actions)
            for e in resource.edges
        ):
            continue  # goes with what it belongs to
        previous: str | None = None
        after: dt.timedelta | None = None
        server = attachments.detached_first(resource, decided, removal_actions)
        if server is None and attachments.on_removed_server(resource, decided, removal_actions):
            continue  # deleting the server detaches it; the volume waits for it
        if server is not None:
            # A detach before the server's removal: after what the server gets first,
            # and not before the server's own grace period has passed.
            server_step = steps[removal_step[server]]
            previous = server_step.depends_on[0] if server_step.depends_on else None
            after = server_step.after
        for index, spec in enumerate(decision.actions):
            sid = step_id(spec.name, ref)
            if sid in steps:
                sid = f"{sid}#{index}"
            steps[sid] = _step(sid, spec, ref, decision, previous)
            if after is not None:
                steps[sid] = dataclasses.replace(steps[sid], after=after)
            if spec.name in removal_actions:
                removal_step.setdefault(ref, sid)
                if server is not None:
                    detach_first[server].append(sid)
            previous = sid
    deps: dict[str, set[str]] = {sid: set(s.depends_on) for sid, s in steps.items()}
    for server, detaches in detach_first.items():
        deps[removal_step[server]].update(detaches)
    detaching = {sid for detaches in detach_first.values() for sid in detaches}
    for ref, sid in removal_step.items():
        if sid in detaching:
            continue  # its server waits for it (above), not the other way round
        resource = by_ref[ref]
        for edge in resource.edges:
            other = removal_step.get(edge.target)
            if other is None:
                continue
            if edge.relation in SOURCE_FIRST:
                deps[other].add(sid)
            elif edge.relation in TARGET_FIRST:
                deps[sid].add(other)
    # Attachments whose server is removed: the volume waits for the server instead.
    for ref, resource in by_ref.items():
        if resource.type != ATTACHMENT or ref in removal_step:
            continue
        targets = {e.relation: e.target for e in resource.edges}
        server = removal_step.get(targets["server"]) if "server" in targets else None
        volume = removal_step.get(targets["volume"]) if "volume" in targets else None
        if server and volume:
            deps[volume].add(server)
    # Security groups last among network objects; the default group after the others.
    users = [
        sid for ref, sid in removal_step.items() if ref.type in ("compute.server", "network.port")
    ]
    groups = [
        (ref, sid) for ref, sid in removal_step.items() if ref.type == "network.security_group"
    ]
    for ref, sid in groups:
        deps[sid].update(users)
        if by_ref[ref].name == "default":
            deps[sid].update(other for oref, other in groups if oref != ref)
    # Quotas after everything else.
    quota_steps = {sid for ref, sid in removal_step.items() if ref.type.endswith(".quota")}
    for sid in quota_steps:
        deps[sid].update(s for s in steps if s not in quota_steps)
    return [dataclasses.replace(s, depends_on=tuple(sorted(deps[sid]))) for sid, s in steps.items()]


def _step(
    sid: str, spec: ActionSpec, ref: ResourceRef, decision: Decision, previous: str | None
) -> Step:
    return Step(
        id=sid,
        action=spec.name,
        resource=ref,
        params=dict(spec.params),
        depends_on=(previous,) if previous else (),
        policy=decision.policy,
        reason=decision.reason,
        after=spec.after,
    )


def _toposort(steps: Sequence[Step], key: Callable[[Step], Any]) -> list[Step]:
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


def _rank(ref: ResourceRef) -> tuple[int, str, str]:
    return (TYPE_RANK.get(ref.type, 90), ref.type, ref.id)
