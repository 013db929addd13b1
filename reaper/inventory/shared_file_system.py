"""Shares (Manila): shares, snapshots, replicas, access rules, share networks and groups.

An admin lists a project's shares, snapshots, share networks and share groups
with ``?all_tenants=1&project_id=``, and each item carries its project, so
the owner re-check is the usual one. Replicas and access rules carry no
project: they are listed by share (only for shares already confirmed to be
the project's), and one whose ``share_id`` is not that share is a mismatch.
The share's own instance is its ``active`` replica, deleted with the share;
only the other replicas are resources of their own.

Manila refuses to delete a share that still has snapshots or replicas, a
share group that still has shares, and a share network that still has
shares: the edges say so (each goes before what it names). Access rules are
denied before their share goes, so the share is never exported while it is
being deleted, and before its replicas go: Manila refuses to deny a rule
while any replica of the share is ``deleting`` (HTTP 400, "lacks a valid host
or is in an invalid state"). Replicas go before the share's snapshots: Manila
deletes a snapshot only when every instance of it (one per replica) is
``available``, and deleting a replica deletes its snapshot instances. A share
in a share group is deleted with that group's id, or Manila refuses.

openstacksdk's Manila listings do not all take ``all_tenants`` and
``project_id``, so the listings are the API's own, at a pinned microversion
(2.65: share groups and replicas are no longer experimental, access rules
have their own listing); the items become the SDK's resources, so policies
see the SDK's field names as for every other type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.shared_file_system.v2 import (
    share,
    share_access_rule,
    share_group,
    share_network,
    share_replica,
    share_snapshot,
)

from reaper.inventory.base import (
    Collector,
    Finding,
    Handler,
    ResourceType,
    Scope,
    gather,
    resource_from_sdk,
)
from reaper.inventory.compute import quota_resource
from reaper.model import Edge, IdentityKind, Resource, ResourceRef

#: The microversion every request is made at.
MICROVERSION = "2.65"
HEADERS: Mapping[str, str] = {
    "X-OpenStack-Manila-API-Version": MICROVERSION,
    "OpenStack-API-Version": f"share {MICROVERSION}",
}
#: Items per page of a listing.
PAGE = 1000

SHARE = ResourceType.from_sdk(
    "shared_file_system.share",
    share.Share,
    description="A Manila share; deleted after its access rules, snapshots and replicas, "
    "before its share network and share group.",
)
SNAPSHOT = ResourceType.from_sdk(
    "shared_file_system.snapshot",
    share_snapshot.ShareSnapshot,
    description="A share snapshot; deleted before its share.",
)
REPLICA = ResourceType.from_sdk(
    "shared_file_system.replica",
    share_replica.ShareReplica,
    extra_fields={"project_id"},
    description="A share's non-active replica (listed by share: it carries no project); "
    "deleted before its share.",
)
ACCESS_RULE = ResourceType.from_sdk(
    "shared_file_system.access_rule",
    share_access_rule.ShareAccessRule,
    extra_fields={"project_id"},
    description="An access rule of a share (listed by share: it carries no project); "
    "denied before its share is deleted.",
)
SHARE_NETWORK = ResourceType.from_sdk(
    "shared_file_system.share_network",
    share_network.ShareNetwork,
    description="A share network; deleted after its shares, before its Neutron network.",
)
SHARE_GROUP = ResourceType.from_sdk(
    "shared_file_system.share_group",
    share_group.ShareGroup,
    description="A share group; deleted after its shares.",
)
QUOTA = ResourceType(
    "shared_file_system.quota",
    description="The project's Manila quotas; releasing them restores the defaults.",
)


def get(proxy: Any, path: str, **params: Any) -> dict[str, Any]:
    """One GET at the pinned microversion; an HTTP error raises the SDK's exception."""
    response = proxy.get(path, headers=dict(HEADERS), params=params or None)
    sdk_exc.raise_from_response(response)
    body: dict[str, Any] = response.json()
    return body


def listing(proxy: Any, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a listing, page by page (Manila pages with limit and offset)."""
    offset = 0
    while True:
        items = get(proxy, path, limit=PAGE, offset=offset, **params).get(key) or []
        yield from items
        if len(items) < PAGE:
            return
        offset += len(items)


def of_project(proxy: Any, path: str, key: str, project_id: str) -> list[dict[str, Any]]:
    """A listing filtered by project, as an admin sees it."""
    return list(listing(proxy, path, key, all_tenants=1, project_id=project_id))


def replicas(proxy: Any, share_id: str) -> list[dict[str, Any]]:
    return list(listing(proxy, "/share-replicas/detail", "share_replicas", share_id=share_id))


def access_rules(proxy: Any, share_id: str) -> list[dict[str, Any]]:
    # This listing does not page: Manila returns every rule of the share.
    rules = get(proxy, "/share-access-rules", share_id=share_id).get("access_list") or []
    return [{**rule, "share_id": rule.get("share_id") or share_id} for rule in rules]


class SharedFileSystemInventory(Handler):
    service_type = "shared-file-system"
    optional = True
    types = (SHARE, SNAPSHOT, REPLICA, ACCESS_RULE, SHARE_NETWORK, SHARE_GROUP, QUOTA)

    def discover(self, conn: Any, scope: Scope) -> Finding:
        proxy = conn.shared_file_system
        found = Collector("shared_file_system", scope)
        for pid in sorted(scope.project_ids):
            listed = gather(
                {
                    "shares": lambda pid=pid: of_project(proxy, "/shares/detail", "shares", pid),
                    "snapshots": lambda pid=pid: of_project(
                        proxy, "/snapshots/detail", "snapshots", pid
                    ),
                    "networks": lambda pid=pid: of_project(
                        proxy, "/share-networks/detail", "share_networks", pid
                    ),
                    "groups": lambda pid=pid: of_project(
                        proxy, "/share-groups/detail", "share_groups", pid
                    ),
                }
            )
            for item in listed["networks"]:
                found.add(SHARE_NETWORK, _share_network(item))
            for item in listed["groups"]:
                found.add(SHARE_GROUP, _resource(SHARE_GROUP, share_group.ShareGroup, item))
            owned = [s for s in listed["shares"] if found.add(SHARE, _share(s))]
            for item in listed["snapshots"]:
                found.add(SNAPSHOT, _child(SNAPSHOT, share_snapshot.ShareSnapshot, item))
            _children(proxy, found, owned, listed["snapshots"])
            if scope.identity.kind is not IdentityKind.USER:
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()


def _children(
    proxy: Any, found: Collector, shares: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> None:
    """Each owned share's non-active replicas and access rules, owned through the share.

    A replica goes before its share's snapshots: deleting it deletes its snapshot
    instances, and a snapshot is deletable only once every instance is ``available``.
    """
    calls = {}
    for item in shares:
        sid = item["id"]
        calls[f"rules:{sid}"] = lambda sid=sid: access_rules(proxy, sid)
        if item.get("replication_type"):
            calls[f"replicas:{sid}"] = lambda sid=sid: replicas(proxy, sid)
    listed = gather(calls)
    for item in shares:
        sid, pid = item["id"], item.get("project_id")
        others = [
            r for r in listed.get(f"replicas:{sid}", ()) if r.get("replica_state") != "active"
        ]  # the active one is the share's own instance: it goes with the share
        before = tuple(Edge("replica", ResourceRef(REPLICA.name, r["id"])) for r in others)
        for rule in listed.get(f"rules:{sid}", ()):
            found.add(ACCESS_RULE, _inherited(ACCESS_RULE, share_access_rule.ShareAccessRule,
                                              rule, sid, pid, before))  # fmt: skip
        snaps = tuple(
            Edge("snapshot", ResourceRef(SNAPSHOT.name, n["id"]))
            for n in snapshots
            if n.get("share_id") == sid
        )
        for replica in others:
            found.add(REPLICA, _inherited(REPLICA, share_replica.ShareReplica,
                                          replica, sid, pid, snaps))  # fmt: skip


def _sdk(cls: type, item: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = cls.existing(**item).to_dict(computed=False)  # type: ignore[attr-defined]
    data.pop("location", None)
    return data


def _resource(rtype: ResourceType, cls: type, item: Mapping[str, Any], **kw: Any) -> Resource:
    return resource_from_sdk(rtype, item, attributes=lambda i: _sdk(cls, i), **kw)


def _share(item: Mapping[str, Any]) -> Resource:
    edges = []
    if item.get("share_network_id"):
        ref = ResourceRef(SHARE_NETWORK.name, item["share_network_id"])
        edges.append(Edge("share_network", ref))
    if item.get("share_group_id"):
        edges.append(Edge("share_group", ResourceRef(SHARE_GROUP.name, item["share_group_id"])))
    return _resource(SHARE, share.Share, item, edges=edges)


def _share_network(item: Mapping[str, Any]) -> Resource:
    """A share network uses the Neutron networks of its subnets (share servers' ports)."""
    nets = {item.get("neutron_net_id")}
    nets |= {s.get("neutron_net_id") for s in item.get("share_network_subnets") or ()}
    edges = [Edge("network", ResourceRef("network.network", n)) for n in sorted(filter(None, nets))]
    return _resource(SHARE_NETWORK, share_network.ShareNetwork, item, edges=edges)


def _child(rtype: ResourceType, cls: type, item: Mapping[str, Any]) -> Resource:
    edges = (
        [Edge("share", ResourceRef(SHARE.name, item["share_id"]))] if item.get("share_id") else []
    )
    return _resource(rtype, cls, item, edges=edges)


def _inherited(
    rtype: ResourceType,
    cls: type,
    item: Mapping[str, Any],
    share_id: str,
    project_id: Any,
    before: tuple[Edge, ...] = (),
) -> Resource:
    """A replica or rule: its share's project, if it really is that share's (else none).

    ``before``: what it goes before besides its share (a rule: the replicas; a
    replica: the share's snapshots).
    """
    owner = project_id if item.get("share_id") == share_id else None
    resource = _child(rtype, cls, item)
    return dataclasses.replace(
        resource,
        edges=(*resource.edges, *before),
        project_id=owner,
        status=resource.status or item.get("state"),
        attributes={**resource.attributes, "project_id": owner},
    )
