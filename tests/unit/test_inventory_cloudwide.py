"""Cloud-wide listings (server groups, shared images' members) read once per storm, not per plan.

Issue 18: a project deletion in a cloud of 2,000 foreign shared images made
2,000 member GETs, and every project of a storm made them again; Nova's
server groups were listed in full by every project too.
"""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from reaper.inventory import cloudwide, placement
from reaper.inventory.base import Scope
from reaper.inventory.compute import ComputeInventory
from reaper.inventory.image import ImageInventory
from reaper.inventory.server_groups import PagedServerGroup
from reaper.model import IdentityKind, IdentityRef

T0 = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cloudwide, "PROCESS", cloudwide.SharedReads(clock=clock))
    return clock


class Glance:
    """Shared images of another project, each with the given members; GETs counted."""

    def __init__(self, members: dict[str, list[str]]) -> None:
        self.held = members
        self.member_gets: list[str] = []
        self.listings: list[dict[str, Any]] = []

    def get_endpoint(self) -> str:
        return "http://glance/v2"

    def images(self, **query: Any) -> list[Any]:
        self.listings.append(query)
        if query.get("visibility") != "shared":
            return []
        return [SimpleNamespace(id=i, owner="p-foreign") for i in sorted(self.held)]

    def members(self, image: Any) -> list[Any]:
        self.member_gets.append(image.id)
        return [
            SimpleNamespace(
                member_id=m, status="accepted", to_dict=lambda computed, m=m: {"member_id": m}
            )
            for m in self.held[image.id]
        ]


def scope(project: str, gone_by: dt.datetime | None) -> Scope:
    return Scope(
        IdentityRef(IdentityKind.PROJECT, project),
        project_ids=frozenset({project}),
        gone_by=gone_by,
    )


def memberships(glance: Glance, s: Scope) -> list[str]:
    finding = ImageInventory().discover(SimpleNamespace(image=glance), s)
    assert not finding.errors
    return sorted(r.id for r in finding.resources)


def test_projects_gone_before_a_read_began_share_it(clock: Clock) -> None:
    glance = Glance({f"i{n}": ["p-live", f"p{n}"] for n in range(50)})
    clock.now = T0 + dt.timedelta(seconds=5)
    assert memberships(glance, scope("p1", T0)) == ["i1:p1"]
    assert memberships(glance, scope("p2", T0)) == ["i2:p2"]
    assert memberships(glance, scope("p3", T0 + dt.timedelta(seconds=5))) == ["i3:p3"]
    assert len(glance.member_gets) == 50  # once per shared image, not once per project
    assert [q for q in glance.listings if q.get("visibility") == "shared"] == [
        {"visibility": "shared", "limit": 1000}
    ]


def test_a_project_gone_after_a_read_began_reads_again(clock: Clock) -> None:
    """Never served by a read older than its deletion: that read may predate a membership."""
    glance = Glance({"i1": ["p1"], "i2": ["p2"]})
    assert memberships(glance, scope("p1", T0)) == ["i1:p1"]
    glance.held["i3"] = ["p2"]  # granted before p2's deletion, after the first read
    clock.now = T0 + dt.timedelta(seconds=1)
    assert memberships(glance, scope("p2", clock.now)) == ["i2:p2", "i3:p2"]
    assert len(glance.member_gets) == 5


def test_without_gone_by_every_discovery_reads_for_itself(clock: Clock) -> None:
    glance = Glance({"i1": ["p1", "p2"]})
    memberships(glance, scope("p1", None))
    memberships(glance, scope("p2", None))
    assert glance.member_gets == ["i1", "i1"]


def test_a_read_past_its_age_is_not_reused(clock: Clock) -> None:
    glance = Glance({"i1": ["p1", "p2"]})
    memberships(glance, scope("p1", T0))
    clock.now = T0 + dt.timedelta(seconds=601)
    memberships(glance, scope("p2", T0))
    assert glance.member_gets == ["i1", "i1"]


def test_a_failed_read_fails_its_plan_and_serves_nobody_after(clock: Clock) -> None:
    glance = Glance({"i1": ["p1", "p2"]})

    class Broken(Glance):
        def members(self, image: Any) -> list[Any]:
            raise RuntimeError("glance down")

    with pytest.raises(RuntimeError):  # the handler's error: discover() marks it incomplete
        ImageInventory().discover(SimpleNamespace(image=Broken(glance.held)), scope("p1", T0))
    assert memberships(glance, scope("p2", T0)) == ["i1:p2"]


def test_discoveries_at_once_wait_for_the_read_in_flight(clock: Clock) -> None:
    reads: list[int] = []
    release = threading.Event()

    def slow() -> str:
        reads.append(1)
        release.wait(5)
        return "groups"

    answers: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                cloudwide.PROCESS.read("nova", "groups", slow, gone_by=T0)
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(5)
    assert answers == ["groups"] * 4 and reads == [1]


def test_server_groups_are_listed_once_for_projects_gone_before(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = [
        PagedServerGroup.existing(id=f"g{n:05d}", project_id=f"p{n}", members=[], name=f"g{n}")
        for n in range(1100)
    ]
    asked: list[int] = []

    def _list(cls: type, *, paginated: bool, **query: Any) -> list[Any]:
        asked.append(query["offset"])
        return groups[query["offset"] : query["offset"] + min(query["limit"], 1000)]

    compute = SimpleNamespace(
        _list=_list, get_endpoint_data=lambda: None, get_endpoint=lambda: "http://nova/v2.1"
    )
    compute.servers = lambda **_: []
    monkeypatch.setattr(placement, "in_catalog", lambda conn: False)
    for project in ("p1", "p1050"):
        finding = ComputeInventory().discover(SimpleNamespace(compute=compute), scope(project, T0))
        assert [r.id for r in finding.resources if r.type == "compute.server_group"] == [
            f"g{int(project[1:]):05d}"
        ]
    assert asked == [0, 999, 1099]
