"""Allocations that outlive their servers: found at the cost of what is left over."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from reaper.inventory import placement

P = "p-deleted"
HOST = "rp-1"
TINY = {"vcpus": 1, "ram": 64, "disk": 1}


class Answer:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status_code, self.body, self.text = status, body, str(body)

    def json(self) -> Any:
        return self.body


class Service:
    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def get(self, path: str, microversion: str | None = None) -> Answer:
        self.asked.append(path)
        return self.answers.get(path, Answer(404, {}))


def server(sid: str, flavor: dict | None = TINY) -> Any:
    return SimpleNamespace(id=sid, project_id=P, flavor=flavor)


def consumer(project: str, resources: dict, consumer_type: str = "INSTANCE") -> Answer:
    return Answer(
        200,
        {
            "allocations": {HOST: {"resources": resources}},
            "project_id": project,
            "user_id": "u1",
            "consumer_type": consumer_type,
        },
    )


def cloud(usage: dict, consumers: dict[str, Answer], servers: set[str]) -> Any:
    listing = {
        c: {"resources": a.body["allocations"][HOST]["resources"]} for c, a in consumers.items()
    }
    answers = {
        f"/usages?project_id={P}": Answer(200, {"usages": usage}),
        "/resource_providers": Answer(200, {"resource_providers": [{"uuid": HOST}]}),
        f"/resource_providers/{HOST}/allocations": Answer(200, {"allocations": listing}),
        **{f"/allocations/{c}": a for c, a in consumers.items()},
    }
    nova = {f"/servers/{s}": Answer(200, {"server": {"id": s}}) for s in servers}
    return SimpleNamespace(placement=Service(answers), compute=Service(nova))


ONE = {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 1}


def test_usage_the_live_servers_flavors_cover_costs_one_request() -> None:
    conn = cloud(ONE, {"s1": consumer(P, ONE)}, {"s1"})

    found, errors = placement.orphans(conn, P, [server("s1")])

    assert (found, errors) == ([], [])
    assert conn.placement.asked == [f"/usages?project_id={P}"]


def test_a_consumer_of_the_project_without_a_server_is_an_orphan() -> None:
    conn = cloud(
        {"VCPU": 2, "MEMORY_MB": 128, "DISK_GB": 2},
        {
            "s1": consumer(P, ONE),
            "lost": consumer(P, ONE),
            "theirs": consumer("p-live", ONE),
            "moving": consumer(P, ONE, "MIGRATION"),
        },
        {"s1"},
    )

    found, errors = placement.orphans(conn, P, [server("s1")])

    assert errors == []
    assert [(r.type, r.id, r.project_id) for r in found] == [("placement.allocation", "lost", P)]
    assert found[0].attributes["resources"] == ONE
    assert "/allocations/s1" not in conn.placement.asked  # a known server is not read


def test_a_consumer_whose_server_nova_still_shows_is_not_an_orphan() -> None:
    conn = cloud(ONE, {"new": consumer(P, ONE)}, {"new"})

    found, _ = placement.orphans(conn, P, [])

    assert found == []


def test_servers_whose_flavor_does_not_say_make_every_consumer_a_candidate() -> None:
    conn = cloud(ONE, {"s1": consumer(P, ONE)}, {"s1"})

    found, _ = placement.orphans(conn, P, [server("s1", flavor={"id": "f1"})])

    assert found == []
    assert "/resource_providers" in conn.placement.asked


def test_placement_that_fails_makes_the_answer_incomplete_not_empty() -> None:
    conn = cloud(ONE, {}, set())
    conn.placement.answers[f"/usages?project_id={P}"] = Answer(503, "down")

    found, errors = placement.orphans(conn, P, [])

    assert found == []
    assert errors and "not inspected" in errors[0]


def test_the_project_usage_is_read_beside_novas_server_listing() -> None:
    """Nova lists the servers only once Placement was asked meanwhile (else nothing)."""
    import threading

    from reaper.inventory.base import Scope
    from reaper.inventory.compute import ComputeInventory
    from reaper.model import IdentityKind, IdentityRef

    asked = threading.Event()

    class Placement(Service):
        def get(self, path: str, microversion: str | None = None) -> Answer:
            asked.set()
            return super().get(path, microversion)

    def servers(**query: Any) -> list[Any]:
        if not asked.wait(10):
            return []
        live = SimpleNamespace(id="s1", project_id=P, user_id="u1", flavor=TINY, name="s1")
        return [SimpleNamespace(**vars(live), attached_volumes=[], image={"id": "i"})]

    compute = SimpleNamespace(
        servers=servers, get_endpoint_data=lambda: None, _list=lambda *a, **k: []
    )
    usage = {f"/usages?project_id={P}": Answer(200, {"usages": ONE})}
    conn = SimpleNamespace(
        compute=compute,
        placement=Placement(usage),
        has_service=lambda kind: kind == "placement",
    )
    finding = ComputeInventory().discover(conn, Scope.of(IdentityRef(IdentityKind.PROJECT, P)))
    assert not finding.errors
    assert [r.id for r in finding.resources if r.type == "compute.server"] == ["s1"]
    # The flavors cover the usage: one request to Placement, and no orphan.
    assert conn.placement.asked == [f"/usages?project_id={P}"]
