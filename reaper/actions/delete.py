"""Deletion of every discovered type, the way each service needs it.

Each function makes one attempt and says what it achieved: ``DONE`` when
the service deleted synchronously, ``ACCEPTED`` when the resource goes away
asynchronously (the executor confirms by listing), ``GONE`` on 404. Errors
propagate; the runner classifies them (retry, fail, dry-run).

Service particulars, each learnt on a real cloud:

* a volume is detached through Nova (Cinder answers 409 "detach using the
  Compute API" for a live server), and a server's deletion detaches its
  volumes itself, deleting those attached with ``delete_on_termination``
  (the planner detaches a volume that stays first, see ``reaper.attachments``);
  Nova refuses (400) to detach a root volume;
* a router interface is removed through the router API, by port; extra
  routes that use the interface's subnet make Neutron refuse, so they are
  cleared first;
* Nova answers 400 to GET/PUT of a deleted project's quotas but accepts
  DELETE, which restores the defaults; Cinder and Neutron likewise;
* an allocation that outlived its server is removed from Placement by its
  consumer (``DELETE /allocations/{consumer}``), synchronously;
* a keypair is addressed by the name and its user, at a pinned microversion
  (``reaper.inventory.keypairs``): a Nova that would ignore the user refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from openstack import exceptions as sdk_exc

from reaper.actions import (
    dns,
    load_balancer,
    object_store,
    orchestration,
    shared_file_system,
)
from reaper.actions.base import Action, StepKey
from reaper.executor import Attempt, Result
from reaper.inventory import keypairs, placement
from reaper.model import Resource

Deleter = Callable[[Any, Resource], Result]


def _sync(call: Callable[[], Any]) -> Result:
    try:
        call()
    except sdk_exc.NotFoundException:
        return Result.GONE
    return Result.DONE


def _async(call: Callable[[], Any]) -> Result:
    try:
        call()
    except sdk_exc.NotFoundException:
        return Result.GONE
    return Result.ACCEPTED


def _server(conn: Any, r: Resource) -> Result:
    return _async(lambda: conn.compute.delete_server(r.id, ignore_missing=False))


def _attachment(conn: Any, r: Resource) -> Result:
    server_id, volume_id = r.attributes["server_id"], r.attributes["volume_id"]
    return _async(
        lambda: conn.compute.delete_volume_attachment(server_id, volume_id, ignore_missing=False)
    )


def _keypair(conn: Any, r: Resource) -> Result:
    name, user_id = r.attributes.get("name") or r.name, r.attributes.get("user_id") or r.user_id
    if not name or not user_id:
        raise ValueError(f"{r.ref}: a keypair is deleted only by its name and its owner")
    return _sync(lambda: keypairs.delete(conn.compute, str(name), str(user_id)))


def _router_interface(conn: Any, r: Resource) -> Result:
    router_id, port_id = r.attributes["router_id"], r.attributes["port_id"]
    if r.attributes.get("router_has_routes"):
        # An extra route whose next hop is on this interface's subnet blocks its removal.
        try:
            conn.network.update_router(router_id, routes=[])
        except sdk_exc.NotFoundException:
            return Result.GONE
    return _sync(lambda: conn.network.remove_interface_from_router(router_id, port=port_id))


def _volume(conn: Any, r: Resource) -> Result:
    return _async(lambda: conn.block_storage.delete_volume(r.id, ignore_missing=False))


DELETERS: Mapping[str, Deleter] = {
    "compute.server": _server,
    "compute.volume_attachment": _attachment,
    "compute.server_group": lambda c, r: _sync(
        lambda: c.compute.delete_server_group(r.id, ignore_missing=False)
    ),
    "compute.keypair": _keypair,
    "compute.quota": lambda c, r: _sync(lambda: c.compute.revert_quota_set(r.id)),
    "block_storage.volume": _volume,
    "block_storage.snapshot": lambda c, r: _async(
        lambda: c.block_storage.delete_snapshot(r.id, ignore_missing=False)
    ),
    "block_storage.backup": lambda c, r: _async(
        lambda: c.block_storage.delete_backup(r.id, ignore_missing=False)
    ),
    "block_storage.quota": lambda c, r: _sync(lambda: c.block_storage.revert_quota_set(r.id)),
    "network.floating_ip": lambda c, r: _sync(
        lambda: c.network.delete_ip(r.id, ignore_missing=False)
    ),
    "network.port": lambda c, r: _sync(lambda: c.network.delete_port(r.id, ignore_missing=False)),
    "network.router_interface": _router_interface,
    "network.router": lambda c, r: _sync(
        lambda: c.network.delete_router(r.id, ignore_missing=False)
    ),
    "network.subnet": lambda c, r: _sync(
        lambda: c.network.delete_subnet(r.id, ignore_missing=False)
    ),
    "network.network": lambda c, r: _sync(
        lambda: c.network.delete_network(r.id, ignore_missing=False)
    ),
    "network.security_group": lambda c, r: _sync(
        lambda: c.network.delete_security_group(r.id, ignore_missing=False)
    ),
    "network.subnet_pool": lambda c, r: _sync(
        lambda: c.network.delete_subnet_pool(r.id, ignore_missing=False)
    ),
    "network.address_scope": lambda c, r: _sync(
        lambda: c.network.delete_address_scope(r.id, ignore_missing=False)
    ),
    "network.qos_policy": lambda c, r: _sync(
        lambda: c.network.delete_qos_policy(r.id, ignore_missing=False)
    ),
    "network.rbac_policy": lambda c, r: _sync(
        lambda: c.network.delete_rbac_policy(r.id, ignore_missing=False)
    ),
    "network.quota": lambda c, r: _sync(lambda: c.network.delete_quota(r.id, ignore_missing=False)),
    "placement.allocation": lambda c, r: Result.DONE if placement.delete(c, r.id) else Result.GONE,
    "image.image": lambda c, r: _sync(lambda: c.image.delete_image(r.id, ignore_missing=False)),
    "image.member": lambda c, r: _sync(
        lambda: c.image.remove_member(
            r.attributes["member_id"], r.attributes["image_id"], ignore_missing=False
        )
    ),
}

DELETERS = {
    **DELETERS,
    **object_store.DELETERS,
    **load_balancer.DELETERS,
    **dns.DELETERS,
    **shared_file_system.DELETERS,
    **orchestration.DELETERS,
}
DELETABLE = frozenset(DELETERS)


class Delete(Action):
    name = "delete"
    description = (
        "Remove the resource: detach through Nova, remove router interfaces, release "
        "quotas (back to defaults), revoke image memberships, RBAC entries and zone shares, "
        "empty Swift containers first, delete load balancers with cascade, delete stacks through "
        "Heat, deny a share's access rules and delete its snapshots and replicas before it."
    )
    resource_types: ClassVar[frozenset[str]] = DELETABLE
    removes = True

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        return Attempt(DELETERS[resource.type](client, resource))
