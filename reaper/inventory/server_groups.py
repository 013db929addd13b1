"""Nova's server groups, every one of them: Nova pages them by offset, with no next link.

``GET /os-server-groups`` answers at most ``[api] max_limit`` groups (1,000
by default) and, unlike the servers listing, no ``server_groups_links``:
openstacksdk takes the first page for the whole list, so a cloud's 1,001st
group was never seen (issue 18: group #1200 of a deleted project was
silently missed). The API pages by ``offset``; this module asks page after
page until an empty one (a short page is no proof of the end: a cloud whose
``max_limit`` is below the ``limit`` asked answers short pages all along).

Invariant: the list returned is every group Nova has, or
:class:`Unpaged` is raised, and the caller's finding carries the error
(the plan is incomplete); never a quietly partial list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from openstack import resource
from openstack.compute.v2 import server_group

from reaper.inventory import cloudwide
from reaper.inventory.shelf import Codec

#: Groups asked for per page (Nova's default ``max_limit``).
PAGE = 1000
#: A listing longer than this many pages is taken for an offset that does not move.
MAX_PAGES = 10_000
#: Reads of a listing that moved under them (groups deleted before the offset) before
#: the discovery gives up (its plan incomplete, tried again later).
ATTEMPTS = 5


def cloud_groups(compute: Any, *, gone_by: dt.datetime | None) -> list[Any]:
    """:func:`all_server_groups`, read once for every project gone by ``gone_by`` (cloudwide.py)."""
    return cloudwide.PROCESS.read(
        cloudwide.endpoint_of(compute),
        "compute.server_groups",
        lambda: all_server_groups(compute),
        gone_by=gone_by,
        codec=GROUPS,
    )


class Unpaged(Exception):
    """The offsets never reached an empty page, or Nova answered the same groups again."""


class PagedServerGroup(server_group.ServerGroup):
    """openstacksdk's server group, allowed the ``offset`` that Nova pages by."""

    _query_mapping = resource.QueryParameters("all_projects", "offset")


def all_server_groups(compute: Any, *, page: int = PAGE) -> list[Any]:
    """Every server group of the cloud (``all_projects``), page by page to an empty page.

    Each page after the first starts one group early, at the last group seen:
    a group deleted before the offset between two pages (a storm's other
    cleanups delete groups as this reads) moves every later group one place
    down, and the one that slid below the offset would be skipped unseen. A
    page that does not start with the last group seen means the listing moved:
    it is read again from the start, at most :data:`ATTEMPTS` times.
    """
    for _ in range(ATTEMPTS):
        groups = _listing(compute, page)
        if groups is not None:
            return groups
    raise Unpaged(f"server groups: the listing moved under each of {ATTEMPTS} reads")


def _listing(compute: Any, page: int) -> list[Any] | None:
    """One read to the empty page; ``None`` when the groups moved under it."""
    groups: list[Any] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        answer = list(
            compute._list(
                PagedServerGroup,
                paginated=False,
                all_projects=True,
                limit=page,
                offset=max(0, len(groups) - 1),
            )
        )
        if groups:
            if not answer or answer[0].id != groups[-1].id:
                return None
            answer = answer[1:]
        if not answer:
            return groups
        fresh = [g for g in answer if g.id not in seen]
        if not fresh:
            raise Unpaged(f"server groups: offset {len(groups)} answered groups already listed")
        seen.update(g.id for g in fresh)
        groups.extend(fresh)
    raise Unpaged(f"server groups: more than {MAX_PAGES} pages of {page}")


#: :func:`all_server_groups`'s answer as the store keeps it for other controllers (shelf.py).
GROUPS = Codec(
    encode=lambda groups: [g.to_dict(computed=False) for g in groups],
    decode=lambda stored: [PagedServerGroup.existing(**attrs) for attrs in stored],
)
