"""Server groups are listed to Nova's last page, which Nova marks by no next link at all."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from reaper.inventory import placement
from reaper.inventory.base import Scope
from reaper.inventory.compute import SERVER_GROUP, ComputeInventory
from reaper.inventory.server_groups import PagedServerGroup, Unpaged, all_server_groups
from reaper.model import IdentityKind, IdentityRef

VICTIM = "p-deleted"


def group(n: int, project: str = "p-other") -> SimpleNamespace:
    return SimpleNamespace(id=f"g{n:05d}", project_id=project, member_ids=[])


class Nova:
    """``os-server-groups`` as Nova answers it: ``limit`` capped at ``max_limit``, by offset."""

    def __init__(self, groups: list[Any], *, max_limit: int = 1000, honours_offset: bool = True):
        self.groups = groups
        self.max_limit = max_limit
        self.honours_offset = honours_offset
        self.asked: list[dict[str, Any]] = []

    def _list(self, cls: type, *, paginated: bool, **query: Any) -> list[Any]:
        assert cls is PagedServerGroup and paginated is False
        self.asked.append(query)
        start = query["offset"] if self.honours_offset else 0
        return self.groups[start : start + min(query["limit"], self.max_limit)]


def test_every_group_is_read_past_the_first_thousand() -> None:
    nova = Nova([group(n) for n in range(2500)])
    assert [g.id for g in all_server_groups(nova)] == [g.id for g in nova.groups]
    # Each page after the first starts at the last group seen (a deleted one moves the rest).
    assert [q["offset"] for q in nova.asked] == [0, 999, 1998, 2499]
    assert all(q["all_projects"] is True for q in nova.asked)


def test_a_max_limit_below_the_page_asked_still_reads_to_the_end() -> None:
    """Short pages are no proof of the end: only an empty one is."""
    nova = Nova([group(n) for n in range(1200)], max_limit=500)
    assert len(all_server_groups(nova)) == 1200


def test_a_nova_that_ignores_the_offset_is_an_error_not_a_partial_list() -> None:
    nova = Nova([group(n) for n in range(1500)], honours_offset=False)
    with pytest.raises(Unpaged):
        all_server_groups(nova)


def test_a_deleted_projects_group_beyond_the_first_page_is_discovered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18: group #1200 of the victim was silently missed."""
    groups = [
        PagedServerGroup.existing(id=f"g{n:05d}", project_id=owner, members=[], name=f"g{n}")
        for n, owner in enumerate(["p-other"] * 1199 + [VICTIM])
    ]
    nova = Nova(groups)
    compute = SimpleNamespace(_list=nova._list, get_endpoint_data=lambda: None)
    compute.servers = lambda **_: []
    monkeypatch.setattr(placement, "in_catalog", lambda conn: False)
    scope = Scope.of(IdentityRef(IdentityKind.PROJECT, VICTIM))
    finding = ComputeInventory().discover(SimpleNamespace(compute=compute), scope)
    assert not finding.errors
    assert [r.id for r in finding.resources if r.type == SERVER_GROUP.name] == ["g01199"]


class DeletingNova(Nova):
    """Nova while a storm's other cleanups delete groups: some go between two pages."""

    def __init__(self, groups: list[Any], doomed: list[str], **kw: Any) -> None:
        super().__init__(groups, **kw)
        self.doomed = doomed

    def _list(self, cls: type, *, paginated: bool, **query: Any) -> list[Any]:
        answer = super()._list(cls, paginated=paginated, **query)
        if self.doomed:  # deleted by another cleanup as this answer travels
            gone = self.doomed.pop(0)
            self.groups = [g for g in self.groups if g.id != gone]
        return answer


def test_groups_deleted_between_two_pages_hide_no_other_group() -> None:
    """At 1,000 deletions the offset moved under the listing: a group after the first
    page's end slid before the second's offset, unseen (B2 storm: misses)."""
    groups = [group(n) for n in range(1500)]
    nova = DeletingNova(groups, doomed=["g00500", "g00501", "g00502"])
    listed = {g.id for g in all_server_groups(nova)}
    assert {g.id for g in groups[503:]} <= listed


def test_a_listing_that_always_moves_is_an_error_not_a_partial_list() -> None:
    nova = DeletingNova([group(n) for n in range(1500)], doomed=[f"g{n:05d}" for n in range(500)])
    with pytest.raises(Unpaged):
        all_server_groups(nova)
