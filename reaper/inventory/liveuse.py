"""Live use: which of a deleted owner's resources a project that still exists uses.

Clouds share: a department's network is shared by RBAC with its course
projects, a golden image with member projects, a security group is named by
another project's rule. Deleting such a resource cuts the live project off
(or Neutron refuses with a 409 that would otherwise be retried forever). So
after every handler has run, each resource a project outside the scope
could use is looked up *by the resource* (admin listings filtered by the
network, the group, the image, never per project), and each use becomes a
typed edge in its attributes::

    reaper_used_by: [{project_id, type, id, detail, kind}]   # live users only
    in_use_by_live_project: true | false     # a use: a port, a rule, a server...
    shared_with_live_project: true | false   # a grant nothing uses yet

A use is what breaks the live project if the resource goes (its server's
port on the network, its rule naming the group, its server booted from the
image). A grant (an RBAC entry, an accepted image membership) only lets it
use the resource: the default policy keeps uses, and keeps the RBAC entry
that grants a use; a stricter policy can keep grants too
(``shared_with_live_project``). Once the live project stops using it, the
next plan reaps it.

A using project that Keystone no longer has is not a live user (its own
tombstone reaps what it had). Invariants, failing closed:

* a resource whose uses could not be listed, or whose user's existence
  Keystone could not confirm either way, counts as in live use (``detail``
  says why), and the inventory is incomplete;
* an RBAC entry of the owner is in use when its target uses the object it
  grants (revoking it would cut the project off, whether or not Neutron
  refuses).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reaper import log
from reaper.inventory import lookups
from reaper.inventory.base import IN_USE, SHARED, USABLE_TYPES, USED_BY, Finding, Scope
from reaper.inventory.use import UNKNOWN, Lookup, Use
from reaper.inventory.uses import FINDER_TYPES, FINDERS, RBAC_OBJECTS, rbac_objects
from reaper.model import IdentityKind, IdentityRef, Resource, ResourceRef

__all__ = ["RBAC_OBJECTS", "UNKNOWN", "Use", "Users", "annotate", "users_of"]

LOG = log.get(__name__)

Uses = dict[ResourceRef, list[Use]]


def annotate(
    conn: Any, scope: Scope, resources: Sequence[Resource]
) -> tuple[Finding, list[Resource]]:
    """``resources`` with :data:`FIELDS` on each usable one, and what went wrong.

    Fails closed: an error leaves every usable resource it may concern in use.
    """
    found, errors = _find(conn, scope, resources)
    uses: Uses = defaultdict(list)
    for ref, listed in found.items():
        uses[ref] = [u for u in listed if u.project_id not in scope.project_ids]
    _grants_in_use(resources, uses)
    live = _live_projects(conn, {u.project_id for us in uses.values() for u in us})
    out: list[Resource] = []
    for r in resources:
        if r.type not in USABLE_TYPES:
            out.append(r)
            continue
        kept = sorted(
            {_with_doubt(u, live) for u in uses.get(r.ref, ()) if live[u.project_id] is not None}
        )
        attrs = {
            **r.attributes,
            IN_USE: any(u.kind == "use" for u in kept),
            SHARED: any(u.kind == "grant" for u in kept),
            USED_BY: [u.as_dict() for u in kept],
        }
        out.append(dataclasses.replace(r, attributes=attrs))
    return Finding(handler="liveuse", errors=tuple(errors)), out


@dataclass(frozen=True)
class Users:
    """Who uses one resource now: what a refused deletion is re-examined with.

    ``live``: uses by projects Keystone still has (or could not say it has
    not: failing closed), grants left out (a grant alone makes no service
    refuse). ``others``: uses by the deleted owner itself or by projects
    Keystone no longer has, which their own deletions will end. ``error``:
    the users could not be listed, so nothing is known.
    """

    live: tuple[Use, ...] = ()
    others: tuple[Use, ...] = ()
    error: str = ""

    def said(self) -> str:
        """``in use by live project L (port P on server S); ...`` (the planner's words)."""
        return "; ".join(f"in use by live project {u.project_id} ({u.detail})" for u in self.live)


def users_of(conn: Any, resource: Resource) -> Users:
    """Who uses ``resource`` now, by the same listings as :func:`annotate`.

    A volume is read again first (its attachments and status are what
    changed). The owner is the resource's project when the deleted
    identity owns it; a resource a deleted user created inside a live
    project has no owner here, so that project's own use is a live one, as
    when the plan was made (``reaper.inventory.base.Scope.of`` a user).
    """
    try:
        resource = _fresh(conn, resource)
        if resource is None:
            return Users()
        owner = resource.project_id if _owned(resource) else None
        scope = Scope(
            IdentityRef(IdentityKind.PROJECT, str(resource.project_id)),
            project_ids=frozenset({owner} if owner else ()),
        )
        found, errors = _find(conn, scope, [resource])
    except Exception as exc:
        return Users(error=f"{type(exc).__name__}: {exc}"[:300])
    if errors:
        return Users(error="; ".join(errors)[:300])
    uses: Uses = defaultdict(list)
    for ref, listed in found.items():
        uses[ref] = list(listed)
    _grants_in_use([resource], uses)
    mine = set(u for u in uses.get(resource.ref, ()) if u.kind == "use")
    live = _live_projects(conn, {u.project_id for u in mine} - scope.project_ids)
    alive = {u for u in mine if live.get(u.project_id, None) is not None}
    return Users(
        live=tuple(sorted(_with_doubt(u, live) for u in alive)),
        others=tuple(sorted(mine - alive)),
    )


def _owned(resource: Resource) -> bool:
    return resource.attributes.get("reaper_relation", "owner") == "owner"


def _fresh(conn: Any, resource: Resource) -> Resource | None:
    """``resource`` with what may have changed since the plan; ``None`` if gone."""
    if resource.type != "block_storage.volume":
        return resource
    from openstack import exceptions  # the SDK is already loaded by then

    try:
        vol = conn.block_storage.get_volume(resource.id)
    except exceptions.NotFoundException:
        return None
    attrs = {
        **resource.attributes,
        "attachments": list(vol.attachments or ()),
        "status": vol.status,
    }
    return dataclasses.replace(resource, status=vol.status, attributes=attrs)


def _find(conn: Any, scope: Scope, resources: Sequence[Resource]) -> tuple[Uses, list[str]]:
    """Every use the finders list, whoever the user; failed finders fail closed.

    The objects of RBAC entries are looked at too (their users make the
    entry in use), whether or not they are among ``resources``. Every
    finder's lookups are sent together (:func:`~reaper.inventory.lookups.run_all`)
    and read in the finders' order; any failed lookup of a finder leaves
    every resource of the finder's types in use, as one failed listing did
    when they went one after another.
    """
    looked_at = [*resources, *rbac_objects(resources, scope)]
    errors: list[str] = []
    uses: Uses = defaultdict(list)
    jobs: list[tuple[str, Lookup]] = []
    failed: dict[str, Exception] = {}
    for name, finder, types in FINDERS:
        if not any(r.type in types for r in looked_at):
            continue
        try:
            jobs += [(name, lookup) for lookup in finder(conn, scope, looked_at)]
        except Exception as exc:
            failed.setdefault(name, exc)
    for (name, _), answer in zip(jobs, lookups.run_all([job for _, job in jobs]), strict=True):
        if answer.error is not None:
            failed.setdefault(name, answer.error)
            continue
        for ref, use in answer.value or ():
            uses[ref].append(use)
    for name, _, _ in FINDERS:
        exc = failed.get(name)
        if exc is None:
            continue
        LOG.warning("live-use lookup failed", lookup=name, error=str(exc))
        errors.append(f"live use of {name} not known ({type(exc).__name__}: {exc})")
        for r in looked_at:
            if r.type in FINDER_TYPES[name]:
                uses[r.ref].append(Use(UNKNOWN, r.type, r.id, "its users could not be listed"))
    return uses, errors


def _grants_in_use(resources: Sequence[Resource], uses: Uses) -> None:
    """An RBAC entry whose target uses the object it grants is in use by that target.

    A wildcard entry (``*``) grants every project: any use of the object by
    a project other than the entry's owner depends on it. An object whose
    users could not be listed makes its entries in use too (fail closed).
    """
    for r in [r for r in resources if r.type == "network.rbac_policy"]:
        obj_type = RBAC_OBJECTS.get(str(r.attributes.get("object_type")))
        target = r.attributes.get("target_project_id")
        owner = r.attributes.get("project_id") or r.project_id
        if obj_type is None:
            continue
        obj = ResourceRef(obj_type, str(r.attributes.get("object_id")))
        for use in list(uses.get(obj, ())):
            granted = use.project_id == target or (target == "*" and use.project_id != owner)
            if use.kind == "use" and (granted or use.project_id == UNKNOWN):
                detail = f"grants the use: {use.detail}"
                uses[r.ref].append(dataclasses.replace(use, detail=detail))


def _with_doubt(use: Use, live: Mapping[str, str | None]) -> Use:
    doubt = live[use.project_id]
    return dataclasses.replace(use, detail=f"{use.detail}; {doubt}") if doubt else use


def _live_projects(conn: Any, project_ids: Iterable[str]) -> dict[str, str | None]:
    """For each id: ``None`` when Keystone says it is gone, else ``""`` (live) or a doubt.

    A doubt (Keystone could not answer) is a detail that replaces the use's
    own, so the plan says why it kept the resource although it may be unused.
    """
    from openstack import exceptions  # the SDK is already loaded by then

    ids = set(project_ids)
    asked = sorted(ids - {UNKNOWN})
    answers = lookups.run_all([functools.partial(conn.identity.get_project, p) for p in asked])
    result: dict[str, str | None] = {UNKNOWN: ""} if UNKNOWN in ids else {}
    for pid, answer in zip(asked, answers, strict=True):
        if answer.error is None:
            result[pid] = ""
        elif isinstance(answer.error, exceptions.NotFoundException):
            result[pid] = None
        else:  # fail closed: not known to be gone
            name = type(answer.error).__name__
            result[pid] = f"Keystone could not say whether it exists: {name}"
    return result
