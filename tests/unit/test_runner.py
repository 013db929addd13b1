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


# -- detaches: confirmed by the volume's own attachment list, and by Nova's ------------


class Volumes:
    """Cinder: the volumes it holds, by id; a project listing sees only the project's."""

    def __init__(self, attached_to: dict[str, list[str]], project_of: dict[str, str]) -> None:
        self.attached_to = attached_to
        self.project_of = project_of
        self.fetched: list[str] = []

    def get_volume(self, volume_id: str) -> Any:
        self.fetched.append(volume_id)
        servers = self.attached_to[volume_id]
        return types.SimpleNamespace(
            id=volume_id, attachments=[{"server_id": s} for s in servers], status="in-use"
        )

    def volumes(self, **filters: Any) -> list[Any]:
        project = filters.get("project_id")
        return [self.get_volume(v) for v, p in self.project_of.items() if project in (None, p)]


class Attachments:
    """Nova: the volumes each server has block device mappings for."""

    def __init__(self, on_server: dict[str, list[str]]) -> None:
        self.on_server = on_server

    def volume_attachments(self, server_id: str) -> list[Any]:
        return [types.SimpleNamespace(volume_id=v) for v in self.on_server[server_id]]


def attached(server_id: str, volume_id: str) -> Resource:
    return Resource(
        type="compute.volume_attachment",
        id=f"{server_id}:{volume_id}",
        project_id="p1",
        attributes={"server_id": server_id, "volume_id": volume_id},
    )


def confirm_detach(cinder: Volumes, nova: Attachments, *resources: Resource) -> frozenset[str]:
    conn = types.SimpleNamespace(block_storage=cinder, compute=nova, network=None)
    pending = {r.id: r for r in resources}
    return SdkRunner(conn, actions={}).confirm("compute.volume_attachment", "delete", pending).gone


def test_another_projects_volume_is_not_detached_until_its_own_list_says_so() -> None:
    # The volume belongs to project p2: a listing of the server's project never shows it.
    cinder = Volumes(attached_to={"v": ["vm"]}, project_of={"v": "p2"})
    nova = Attachments(on_server={"vm": []})
    assert confirm_detach(cinder, nova, attached("vm", "v")) == frozenset()
    cinder.attached_to["v"] = []
    assert confirm_detach(cinder, nova, attached("vm", "v")) == {"vm:v"}


def test_a_detach_is_not_confirmed_while_nova_still_maps_the_volume() -> None:
    # Nova removes its block device mapping after Cinder's attachment: until it has,
    # deleting the server would still delete a volume attached with delete_on_termination.
    cinder = Volumes(attached_to={"v": []}, project_of={"v": "p1"})
    nova = Attachments(on_server={"vm": ["v"]})
    assert confirm_detach(cinder, nova, attached("vm", "v")) == frozenset()
    nova.on_server["vm"] = []
    assert confirm_detach(cinder, nova, attached("vm", "v")) == {"vm:v"}


def test_a_volume_attached_elsewhere_too_is_detached_from_this_server() -> None:
    cinder = Volumes(attached_to={"v": ["other"]}, project_of={"v": "p1"})
    nova = Attachments(on_server={"vm": []})
    assert confirm_detach(cinder, nova, attached("vm", "v")) == {"vm:v"}


# -- servers: a deletion is confirmed by a listing of ids, a stop by a detailed one -----


class Servers:
    """A compute proxy that lists servers and records how it was asked."""

    def __init__(self, listed: dict[str, str]) -> None:
        self.listed = listed
        self.calls: list[dict[str, Any]] = []

    def servers(self, **filters: Any) -> list[Any]:
        self.calls.append(filters)
        details = filters.get("details", True)
        return [
            types.SimpleNamespace(id=i, status=status if details else None)
            for i, status in self.listed.items()
        ]


def server(sid: str) -> Resource:
    return Resource(type="compute.server", id=sid, project_id="p1")


def test_a_server_deletion_is_confirmed_by_a_listing_without_details() -> None:
    # Nova builds every server's full view for a detailed listing, on the host that is
    # deleting them; presence is all a deletion is judged by.
    nova = Servers(listed={"b": "ACTIVE"})
    conn = types.SimpleNamespace(compute=nova, block_storage=None, network=None)
    pending = {s.id: s for s in (server("a"), server("b"))}
    confirmation = SdkRunner(conn, actions={}).confirm("compute.server", "delete", pending)
    assert confirmation.gone == frozenset({"a"})
    assert nova.calls == [{"details": False, "all_projects": True, "project_id": "p1"}]


def test_a_stop_is_still_confirmed_by_the_servers_status() -> None:
    nova = Servers(listed={"a": "SHUTOFF", "b": "ACTIVE"})
    conn = types.SimpleNamespace(compute=nova, block_storage=None, network=None)
    pending = {s.id: s for s in (server("a"), server("b"))}
    confirmation = SdkRunner(conn, actions={}).confirm("compute.server", "stop", pending)
    assert confirmation.gone == frozenset({"a"})
    assert nova.calls[0]["details"] is True
