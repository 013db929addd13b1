"""What becomes of a volume attached to a server the plan removes.

Deleting a server detaches its volumes, and Nova also *deletes* each one
attached with ``delete_on_termination``, whatever protects it: a volume
tagged ``reaper:keep``, owned by a protected project, kept by a kept
snapshot, or not the deleted identity's at all (an admin can attach another
project's volume). The planner therefore settles every attachment (pure
functions over decisions, no I/O):

* the volume goes too: no step of its own; the volume's removal waits for the
  server, whose deletion detaches it;
* the volume stays and ``delete_on_termination`` is false: no step either
  (the server's deletion detaches it and Nova leaves the volume); the
  attachment's decision says so;
* the volume stays and Nova would delete it: a data volume is detached first
  (Nova's volume-attachment delete, a step the server's removal waits for,
  even when no policy acts on attachments), and a root volume, which Nova
  cannot detach, keeps its server (skipped, with the reason);
* the volume and the server both stay: the volume is left attached.

Invariant: no plan deletes a server while a volume that stays is attached to
it with ``delete_on_termination`` possibly true. What Nova does not say is
taken at its worst: an unknown ``delete_on_termination`` counts as true, an
attachment not known to be a data volume counts as the root volume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from reaper.model import ActionSpec, Decision, Resource, ResourceRef, Verdict

#: A volume attached to a server; removing it is Nova's detach.
ATTACHMENT = "compute.volume_attachment"
#: The action that detaches (the removal of an attachment).
DETACH = "delete"


def ends(resource: Resource) -> tuple[ResourceRef | None, ResourceRef | None]:
    """The server and the volume an attachment joins."""
    targets = {e.relation: e.target for e in resource.edges}
    return targets.get("server"), targets.get("volume")


def on_removed_server(
    resource: Resource, decided: Mapping[ResourceRef, Decision], removal_actions: frozenset[str]
) -> ResourceRef | None:
    """The server an attachment is on, when the plan removes that server."""
    if resource.type != ATTACHMENT:
        return None
    server, _ = ends(resource)
    decision = decided.get(server) if server is not None else None
    return server if decision is not None and decision.removes(removal_actions) else None


def detached_first(
    resource: Resource, decided: Mapping[ResourceRef, Decision], removal_actions: frozenset[str]
) -> ResourceRef | None:
    """The removed server an attachment must be detached from before it goes, if any."""
    server = on_removed_server(resource, decided, removal_actions)
    if server is None or not decided[resource.ref].removes(removal_actions):
        return None
    _, volume = ends(resource)
    kept = volume is None or not (volume in decided and decided[volume].removes(removal_actions))
    return server if kept else None


def settle(
    ref: ResourceRef,
    resource: Resource,
    result: dict[ResourceRef, Decision],
    removal_actions: frozenset[str],
) -> bool:
    """Settle one attachment whose volume stays, in ``result``; True if anything changed.

    May demote the server (a root volume Nova would delete with it), promote
    the attachment to a detach (a data volume Nova would delete), or skip the
    attachment with the reason. Changes only ever remove work from the server
    or settle the attachment once, so the planner's fixpoint terminates.
    """
    decision = result[ref]
    server_ref, volume_ref = ends(resource)
    if server_ref is None or volume_ref is None:
        return False
    server, volume = result.get(server_ref), result.get(volume_ref)
    if volume is not None and volume.removes(removal_actions):
        return False
    stays = (
        f"{volume_ref} stays ({volume.verdict.value}: {volume.reason})"
        if volume is not None
        else f"{volume_ref} is not among the deleted identity's resources"
    )
    if server is None or not server.removes(removal_actions):
        if decision.verdict is not Verdict.ACT:
            return False
        note = f"left attached: {server_ref} and {volume_ref} both stay"
        result[ref] = dataclasses.replace(decision, verdict=Verdict.SKIP, actions=(), reason=note)
        return True
    attrs = resource.attributes
    if attrs.get("delete_on_termination") is False:
        note = (
            f"no step of its own: deleting {server_ref} detaches it, and {stays}: "
            "delete_on_termination is false, so Nova leaves the volume"
        )
        if decision.verdict is Verdict.PROTECT or decision.reason == note:
            return False
        result[ref] = dataclasses.replace(decision, verdict=Verdict.SKIP, actions=(), reason=note)
        return True
    # Nova would delete the volume with the server, or cannot say it would not.
    root = attrs.get("is_root_volume")
    if root is not False or decision.verdict is Verdict.PROTECT:
        if root is True:
            why = "it is the server's root volume, which cannot be detached"
        elif root is None:
            why = "Nova does not say it is not the root volume, which cannot be detached"
        else:
            why = f"{ref} is protected, so it is not detached"
        result[server_ref] = server.demoted(
            Verdict.SKIP,
            f"kept: Nova would delete {volume_ref} with it (delete_on_termination), "
            f"{stays}, and {why}",
            server,
        )
        return True
    note = (
        f"detach before {server_ref} is deleted: {stays}, and Nova would delete it "
        "with the server (delete_on_termination)"
    )
    if decision.reason == note and decision.removes(removal_actions):
        return False
    result[ref] = dataclasses.replace(
        decision,
        verdict=Verdict.ACT,
        actions=(ActionSpec(DETACH),),
        policy=server.policy,
        rule=server.rule,
        reason=note,
    )
    return True
