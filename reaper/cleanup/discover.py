"""Discover: whose resources to look for, and looking.

The inventory stage (:mod:`reaper.inventory`) lists what a :class:`Scope`
owns; the road decides the scope. A project or a user is its own scope. A
deleted domain's projects and users cannot be asked of Keystone any more, so
its scope is the members reaper has seen in it (the directory the sweep
keeps); when it has seen none the plan says so rather than looking complete
and empty (:data:`DOMAIN_UNKNOWN`).
"""

from __future__ import annotations

from collections.abc import Iterable

from reaper.inventory.base import Scope
from reaper.model import IdentityKind, IdentityRef
from reaper.store import Store

#: Why a domain's plan may hold nothing although its projects had resources.
DOMAIN_UNKNOWN = (
    "reaper has seen no project or user of this domain (their notifications came before "
    "reaper listened, or the store is new), so their resources are not in this plan: "
    "plan them with --project/--user, or let the sweep find them"
)


def domain_members(store: Store, identity: IdentityRef) -> tuple[list[str], list[str]]:
    """The projects and users reaper has seen in a domain (nothing for other kinds)."""
    if identity.kind is not IdentityKind.DOMAIN:
        return [], []
    known = store.directory.in_domain(identity.id)
    projects = [k.identity.id for k in known if k.identity.kind is IdentityKind.PROJECT]
    users = [k.identity.id for k in known if k.identity.kind is IdentityKind.USER]
    return projects, users


def scope_for(
    identity: IdentityRef, known_projects: Iterable[str] = (), known_users: Iterable[str] = ()
) -> Scope:
    """What to search for ``identity``.

    A deleted domain's projects cannot be asked of Keystone any more; the
    caller passes the ones reaper knows of (Keystone sends one
    ``project.deleted`` per project before ``domain.deleted``, so they
    normally have tombstones of their own already).
    """
    if identity.kind is IdentityKind.DOMAIN:
        return Scope(
            identity, project_ids=frozenset(known_projects), user_ids=frozenset(known_users)
        )
    return Scope.of(identity)


def operator_scope(store: Store, identity: IdentityRef) -> Scope:
    """The scope an operator's command searches: a domain through its known members.

    (The controller does not search a domain's members: they have tombstones
    of their own.)
    """
    return scope_for(identity, *domain_members(store, identity))


def unknown_domain(scope: Scope) -> bool:
    """A domain scope with no member reaper has seen: its plan is incomplete."""
    return scope.identity.kind is IdentityKind.DOMAIN and not (scope.project_ids or scope.user_ids)
