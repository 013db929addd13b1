"""Stacks (Heat): a deleted project's stacks, deleted through Heat.

Heat's default policy refuses ``global_tenant`` listings to everybody, but an
admin of the admin project sees every project's stacks in its own
``/stacks`` and ``?tenant=`` filters them (tests/testbed/README.md, "Deleting
a stack of a deleted project"); each item names its ``project``, which is
re-checked. Only top-level stacks are listed: deleting one deletes its
nested stacks.

A stack goes through Heat, so that Heat deletes what it created in its own
order (and its stack-user project). Its resources, found by the other
handlers as ordinary resources of the project, are linked to it by their
physical ids (``created`` edges): the stack goes first, and a stack one of
whose resources stays (protected, kept) is not deleted at all, since Heat
would delete that resource with it. A stack already in ``DELETE_FAILED``
(Heat could not delete something: a port the user added to its subnet, for
instance) is linked the other way (``leftover``): its resources are removed
by their own handlers first, then Heat deletes the stack, which holds
nothing any more.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.orchestration.v1 import stack

from reaper.inventory.base import Collector, Finding, Handler, ResourceType, Scope, gather
from reaper.model import Edge, Resource, ResourceRef

STACK = ResourceType.from_sdk(
    "orchestration.stack",
    stack.Stack,
    extra_fields={"project_id", "stack_user_project_id"},
    description="A Heat stack; deleted through Heat (which deletes what it created, in "
    "order) before its resources, and not at all while one of them stays.",
)
#: Heat resource types whose physical id is a resource another handler finds.
PHYSICAL: Mapping[str, str] = {
    "OS::Nova::Server": "compute.server",
    "OS::Nova::ServerGroup": "compute.server_group",
    "OS::Cinder::Volume": "block_storage.volume",
    "OS::Neutron::Net": "network.network",
    "OS::Neutron::Subnet": "network.subnet",
    "OS::Neutron::Port": "network.port",
    "OS::Neutron::Router": "network.router",
    "OS::Neutron::FloatingIP": "network.floating_ip",
    "OS::Neutron::SecurityGroup": "network.security_group",
    "OS::Glance::WebImage": "image.image",
    "OS::Manila::Share": "shared_file_system.share",
    "OS::Manila::ShareNetwork": "shared_file_system.share_network",
    "OS::Octavia::LoadBalancer": "load_balancer.load_balancer",
    "OS::Designate::Zone": "dns.zone",
}
#: How deep nested stacks' resources are listed.
NESTED_DEPTH = 5
PAGE = 500
FAILED = "DELETE_FAILED"


def get(heat: Any, path: str, **params: Any) -> dict[str, Any]:
    response = heat.get(path, params=params or None)
    sdk_exc.raise_from_response(response)
    body: dict[str, Any] = response.json()
    return body


def stacks_of(heat: Any, project_id: str) -> Iterator[dict[str, Any]]:
    """Every top-level stack of a project, as the admin project's admin sees it."""
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"tenant": project_id, "limit": PAGE}
        if marker:
            params["marker"] = marker
        items = get(heat, "/stacks", **params).get("stacks") or []
        yield from items
        if len(items) < PAGE:
            return
        marker = items[-1]["id"]


def stack_path(r: Resource) -> str:
    return f"/stacks/{r.attributes.get('name') or r.name}/{r.id}"


class OrchestrationInventory(Handler):
    service_type = "orchestration"
    optional = True
    types = (STACK,)

    def discover(self, conn: Any, scope: Scope) -> Finding:
        heat = conn.orchestration
        found = Collector("orchestration", scope)
        for pid in sorted(scope.project_ids):
            listed = list(stacks_of(heat, pid))
            # Resources are asked for only of stacks that name the project; the others
            # fail the owner re-check below, and are recorded as mismatches.
            made = gather(
                {
                    s["id"]: lambda s=s: _resources(heat, s)
                    for s in listed
                    if s.get("project") == pid
                }
            )
            for item in listed:
                found.add(STACK, _stack(item, made.get(item["id"], ())))
        return found.finding()


def _resources(heat: Any, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    path = f"/stacks/{item['stack_name']}/{item['id']}/resources"
    return list(get(heat, path, nested_depth=NESTED_DEPTH).get("resources") or [])


def _stack(item: Mapping[str, Any], made: Any) -> Resource:
    relation = "leftover" if item.get("stack_status") == FAILED else "created"
    edges = sorted(
        {
            Edge(relation, ResourceRef(PHYSICAL[r["resource_type"]], r["physical_resource_id"]))
            for r in made
            if r.get("resource_type") in PHYSICAL and r.get("physical_resource_id")
        },
        key=lambda e: (e.target.type, e.target.id),
    )
    attributes = stack.Stack.existing(**item).to_dict(computed=False)
    attributes.pop("location", None)
    attributes["project_id"] = item.get("project")
    attributes["stack_user_project_id"] = item.get("stack_user_project_id")
    return Resource(
        type=STACK.name,
        id=str(item["id"]),
        name=item.get("stack_name"),
        project_id=item.get("project"),
        status=item.get("stack_status"),
        attributes=attributes,
        edges=tuple(edges),
    )
