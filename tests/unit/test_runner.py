"""The openstacksdk runner's listings: confirmations and the lookups that spare requests."""

from __future__ import annotations

import types
from typing import Any

from reaper.actions.runner import SdkRunner
from reaper.model import Resource, ResourceRef, Step


class Ports:
    """A network proxy that lists some ports and records how it was asked."""

    def __init__(self, listed: list[str]) -> None:
        self.listed = listed
        self.calls: list[dict[str, Any]] = []

    def ports(self, **filters: Any) -> list[Any]:
        self.calls.append(filters)
        return [types.SimpleNamespace(id=i, status="ACTIVE") for i in self.listed]


def port(pid: str, owner: str) -> Resource:
    return Resource(
        type="network.port", id=pid, project_id="p1", attributes={"device_owner": owner}
    )


def delete(resource: Resource) -> Step:
    ref = ResourceRef(resource.type, resource.id)
    return Step(id=f"delete:{ref.type}:{ref.id}", action="delete", resource=ref)


def test_only_ports_nova_made_for_a_server_are_looked_up_first() -> None:
    runner = SdkRunner(types.SimpleNamespace(), actions={})
    server_port = port("a", "compute:nova")
    assert runner.lookup_first(delete(server_port), server_port)
    for other in (port("b", ""), port("c", "network:router_interface")):
        assert not runner.lookup_first(delete(other), other)
    tagging = Step(id="tag:x", action="tag", resource=ResourceRef("network.port", "a"))
    assert not runner.lookup_first(tagging, server_port)


def test_a_port_lookup_is_one_listing_for_the_project() -> None:
    network = Ports(listed=["b"])
    conn = types.SimpleNamespace(network=network, block_storage=None, compute=None)
    runner = SdkRunner(conn, actions={})
    pending = {p.id: p for p in (port("a", "compute:nova"), port("b", "compute:nova"))}
    confirmation = runner.confirm("network.port", "delete", pending)
    assert confirmation.gone == frozenset({"a"})
    assert network.calls == [{"project_id": "p1"}]
