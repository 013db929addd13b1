"""Who owns what, cloud-wide: Keystone's identities and the owners of every resource.

Two readings the sweep makes, both as raw JSON pages
(:mod:`reaper.inventory.pages`), never as SDK objects:

* :func:`keystone_identities`, every sweep: Keystone's projects, users and
  domains, ``limit`` items a page (a Keystone that pages stops at
  ``max_db_limit`` when asked without it, saying nothing; one that does not
  page returns the whole list); a list cut short (``truncated`` and no next
  page: ``list_limit``) raises, since a partial list would make live
  identities look gone;
* :func:`owners`, the full scan (at start-up and on ``[sweep]
  full_scan_interval``): every server, volume, snapshot, network, port,
  floating IP, router and image of the cloud, ``limit`` items a page, each
  page folded into counters of the owners Keystone does not list and then
  dropped. Memory is one page plus what those owners own;
* :func:`owners` with ``since``, every sweep between two full scans: only
  what changed since the last scan, through each service's own filter
  (:data:`CHANGED_SINCE`). A resource unchanged since then was listed by
  that scan, and its owner was either found then or is one Keystone listed
  (which the sweep by difference follows), so the two together miss no
  owner; the changed scan finds, within one sweep, the owners reaper never
  saw (created and deleted while it heard nothing) instead of at the next
  full scan. Servers, volumes and images are read so (what costs money and
  runs code); Cinder's snapshots and Neutron's resources have no filter that
  works (see :data:`CHANGED_SINCE`) and wait for the full scan.

A listing that cannot be read to its end is named in ``incomplete``; its
pages read so far still count (each owner found is verified on its own
before anything is opened), but nobody concludes from it that an owner
owns nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reaper import log
from reaper.inventory.pages import Listing, pages
from reaper.model import IdentityKind, IdentityRef
from reaper.store.directory import Known

LOG = log.get(__name__)

ALL = {"all_tenants": 1}

#: The cloud-wide listings of the full scan, with the raw field naming each owner.
RESOURCES: tuple[tuple[Listing, str, str | None, str], ...] = (
    # listing, project field, user field, creation field
    (
        Listing("servers", "compute", "/servers/detail", "servers", ALL),
        "tenant_id",
        "user_id",
        "created",
    ),
    (
        Listing("volumes", "block_storage", "/volumes/detail", "volumes", ALL),
        "os-vol-tenant-attr:tenant_id",
        "user_id",
        "created_at",
    ),
    (
        Listing("snapshots", "block_storage", "/snapshots/detail", "snapshots", ALL),
        "os-extended-snapshot-attributes:project_id",
        None,
        "created_at",
    ),
    (Listing("networks", "network", "/networks", "networks"), "project_id", None, "created_at"),
    (Listing("ports", "network", "/ports", "ports"), "project_id", None, "created_at"),
    (
        Listing("floating_ips", "network", "/floatingips", "floatingips"),
        "project_id",
        None,
        "created_at",
    ),
    (Listing("routers", "network", "/routers", "routers"), "project_id", None, "created_at"),
    (
        Listing("images", "image", "/images", "images", {"visibility": "all"}),
        "owner",
        None,
        "created_at",
    ),
)

#: How each listing asks for what changed since a time (ISO 8601, UTC), and at which
#: microversion: Nova's ``changes-since`` (it lists deleted servers too, as DELETED),
#: Cinder's ``updated_at=gte:`` (microversion 3.60), Glance's ``updated_at=gte:``.
#: Neutron's documented ``changed_since`` is refused by its own filter validation
#: (on by default: neutron 29 answers 400 "['changed_since'] is invalid attribute for
#: filtering"), so Neutron's listings, like Cinder's snapshots, wait for the full scan.
CHANGED_SINCE: dict[str, tuple[Callable[[str], dict[str, str]], str | None]] = {
    "servers": (lambda t: {"changes-since": t}, None),
    "volumes": (lambda t: {"updated_at": f"gte:{t}"}, "3.60"),
    "images": (lambda t: {"updated_at": f"gte:{t}"}, None),
}

IDENTITIES = (
    (IdentityKind.PROJECT, Listing("projects", "identity", "/projects", "projects")),
    (IdentityKind.USER, Listing("users", "identity", "/users", "users")),
    (IdentityKind.DOMAIN, Listing("domains", "identity", "/domains", "domains")),
)


@dataclasses.dataclass(frozen=True)
class Owned:
    """What the full scan found an owner Keystone does not list owning."""

    #: ``kind:id`` of each resource (``servers:1f0c...``).
    refs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Census:
    """The full scan's answer: unknown owners and what they own; listings not read to the end."""

    owned: Mapping[IdentityRef, Owned]
    incomplete: tuple[str, ...] = ()
    #: Listings a changed scan left for the full scan (no filter for what changed).
    skipped: tuple[str, ...] = ()


def keystone_identities(conn: Any) -> list[Known]:
    """Every project, user and domain Keystone lists now, with its domain.

    Raises :class:`~reaper.inventory.pages.Incomplete` when a list cannot be
    read whole: the difference with the directory needs all of it.
    """
    known: list[Known] = []
    for kind, listing in IDENTITIES:
        for page in pages(getattr(conn, listing.service), listing):
            for item in page:
                domain = None if kind is IdentityKind.DOMAIN else item.get("domain_id")
                known.append(Known(IdentityRef(kind, item["id"]), domain, item.get("name")))
    return known


def owners(
    conn: Any,
    *,
    projects: frozenset[str],
    users: frozenset[str],
    cutoff: dt.datetime,
    since: dt.datetime | None = None,
    listings: Iterable[tuple[Listing, str, str | None, str]] = RESOURCES,
) -> Census:
    """Owners of resources older than ``cutoff`` that are not among ``projects``/``users``.

    With ``since``, only resources changed at or after it are listed, and
    listings without a filter for that are skipped (see the module docstring).
    """
    owned: dict[IdentityRef, list[str]] = collections.defaultdict(list)
    incomplete, skipped = [], []
    for listing, project_field, user_field, created_field in listings:
        if since is not None:
            changed = changed_since(listing, since)
            if changed is None:
                skipped.append(listing.name)
                continue
            listing = changed
        count = _counter(owned, listing.name, projects, users, cutoff)
        try:
            for page in pages(getattr(conn, listing.service), listing):
                count(page, project_field, user_field, created_field)
        except Exception as exc:  # Incomplete, or the service could not be reached
            LOG.warning("sweep listing incomplete", listing=listing.name, error=str(exc))
            incomplete.append(listing.name)
    return Census({k: Owned(tuple(v)) for k, v in owned.items()}, tuple(incomplete), tuple(skipped))


def changed_since(listing: Listing, since: dt.datetime) -> Listing | None:
    """``listing`` narrowed to what changed at or after ``since``; ``None``: it cannot be."""
    how = CHANGED_SINCE.get(listing.name)
    if how is None:
        return None
    params, microversion = how
    when = since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dataclasses.replace(
        listing,
        params={**listing.params, **params(when)},
        microversion=microversion or listing.microversion,
    )


def _counter(
    owned: dict[IdentityRef, list[str]],
    name: str,
    projects: frozenset[str],
    users: frozenset[str],
    cutoff: dt.datetime,
) -> Callable[[list[dict], str, str | None, str], None]:
    """Folds one page into ``owned``; only items of unknown owners are looked at twice."""

    def count(page: list[dict], project_field: str, user_field: str | None, created: str) -> None:
        for item in page:
            if item.get("status") == "DELETED":  # Nova's changes-since lists the deleted too
                continue
            project = item.get(project_field)
            user = item.get(user_field) if user_field else None
            stranger_project = bool(project) and project not in projects
            stranger_user = bool(user) and user not in users
            if not (stranger_project or stranger_user):
                continue
            if not old_enough(item.get(created), cutoff):
                continue
            ref = f"{name}:{item.get('id')}"
            if stranger_project:
                owned[IdentityRef(IdentityKind.PROJECT, project)].append(ref)
            if stranger_user:
                owned[IdentityRef(IdentityKind.USER, user)].append(ref)

    return count


def old_enough(created_at: Any, cutoff: dt.datetime) -> bool:
    """Created at or before ``cutoff``; an unknown or unreadable time counts as old.

    The 404 check of the owner still decides; the age only spares a project
    being created from a sweep that lists its first resources.
    """
    if not created_at:
        return True
    try:
        when = dt.datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when <= cutoff
