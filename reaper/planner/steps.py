"""Final decisions become steps, and the edges between resources become their dependencies.

One step per action of every resource decided ACT (several actions on one
resource run in the order the policy lists them), except what is *carried*
by a removal (a load balancer's cascade takes its listeners and pools) and a
volume its server's deletion detaches. A removal depends on others per the
relations of :mod:`reaper.planner.relations`, plus the rules no edge
expresses: a volume detached first holds back its server's removal, what the
tenant added to a stack's resources goes before the stack, a server goes
before the floating IPs on its ports, security
groups wait for every server and port removal (``default`` also for the
other groups, last of all), and quota releases wait for every other step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from reaper import attachments
from reaper.attachments import ATTACHMENT
from reaper.model import ActionSpec, Decision, Resource, ResourceRef, Step, Verdict
from reaper.planner.propagate import removes
from reaper.planner.relations import CARRIED, SOURCE_FIRST, TARGET_FIRST, rank


def step_id(action: str, ref: ResourceRef) -> str:
    """The id of ``action``'s step on ``ref``: stable, so plans compare."""
    return f"{action}:{ref.type}:{ref.id}"


def make_steps(
    by_ref: Mapping[ResourceRef, Resource],
    decided: Mapping[ResourceRef, Decision],
    removal_actions: frozenset[str],
) -> list[Step]:
    """The steps of the decisions in ``decided``, each depending on what must go first."""
    steps: dict[str, Step] = {}
    removal_step: dict[ResourceRef, str] = {}
    #: Detaches that must finish before their server's removal, by the server's ref.
    detach_first: dict[ResourceRef, list[str]] = defaultdict(list)
    for ref in sorted(by_ref, key=rank):
        decision = decided[ref]
        if decision.verdict is not Verdict.ACT:
            continue
        resource = by_ref[ref]
        if any(
            (resource.type, e.relation) in CARRIED
            and removes(decided.get(e.target), removal_actions)
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
    _before_their_stack(by_ref, removal_step, deps)
    _servers_before_their_addresses(by_ref, removal_step, deps)
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


def _before_their_stack(
    by_ref: Mapping[ResourceRef, Resource],
    removal_step: Mapping[ResourceRef, str],
    deps: dict[str, set[str]],
) -> None:
    """What the tenant added to a stack's resources goes before the stack.

    Heat deletes what it created, and fails (DELETE_FAILED) when one of those
    is still in use by something Heat does not know: a port the tenant made
    on the stack's network keeps the network. So a removal that must come
    before a resource a stack created (a ``uses`` edge to it) comes before the
    stack too. Unless it must itself wait for something of the stack (a port
    whose server the stack made): then the order stays as the edges say, and
    a stack that fails is reaped after its leftovers (``leftover``).
    Invariant: adds no cycle.
    """
    for stack, stack_sid in removal_step.items():
        made = {e.target for e in by_ref[stack].edges if e.relation == "created"}
        if not made:
            continue
        for ref, sid in removal_step.items():
            if ref == stack or ref in made:
                continue
            uses_made = any(
                e.relation in SOURCE_FIRST and e.relation != "created" and e.target in made
                for e in by_ref[ref].edges
            )
            if uses_made and not _waits_for(deps, sid, stack_sid):
                deps[stack_sid].add(sid)


def _servers_before_their_addresses(
    by_ref: Mapping[ResourceRef, Resource],
    removal_step: Mapping[ResourceRef, str],
    deps: dict[str, set[str]],
) -> None:
    """A floating IP on a server's port is released after the server is gone.

    Neutron accepts either order, and the cheaper one is the server first,
    as openstacksdk's ``project_cleanup`` does it: releasing an address still
    associated with a live server makes Neutron tell Nova (a
    ``network-changed`` event per address), and nova-compute then refreshes
    that server's network information, under the lock and through the same
    single Neutron its deallocation of the server's ports needs. Measured on
    the testbed, the servers' deletions took several times longer with
    their addresses released alongside or just before. Once the server is
    gone its port is too, the address is disassociated, and its release is
    a bare deletion. Only an order (the router interface, which waits for
    the address, is not needed by the server). Invariant: adds no cycle (an
    edge that would close one is left out).
    """
    for ref, fip_sid in removal_step.items():
        if ref.type != "network.floating_ip":
            continue
        for edge in by_ref[ref].edges:
            port = by_ref.get(edge.target) if edge.relation == "port" else None
            if port is None:
                continue
            for port_edge in port.edges:
                server_sid = (
                    removal_step.get(port_edge.target)
                    if port_edge.relation == "device" and port_edge.target.type == "compute.server"
                    else None
                )
                if server_sid and not _waits_for(deps, server_sid, fip_sid):
                    deps[fip_sid].add(server_sid)


def _waits_for(deps: Mapping[str, set[str]], sid: str, other: str) -> bool:
    """Whether step ``sid`` depends on ``other``, directly or through others."""
    seen: set[str] = set()
    todo = [sid]
    while todo:
        current = todo.pop()
        if current == other:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(deps.get(current, ()))
    return False


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
