"""Deleting Manila objects: shares, their snapshots, replicas and rules, networks, groups.

Manila answers 202 and deletes in its share service (``deleting``, then
gone), so a deletion is confirmed by listing the project's objects of that
kind; ``error_deleting`` fails the step. An access rule is denied through
its share's action API and is gone from the share's rules once the driver
has removed it. A share in a share group is deleted with the group's id:
Manila refuses otherwise. Every request is made at the inventory's pinned
microversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openstack import exceptions as sdk_exc

from reaper.actions.outcomes import accepted, synchronous
from reaper.executor import Result
from reaper.inventory import shared_file_system as sfs
from reaper.model import Resource


def _call(conn: Any, method: str, path: str, **kwargs: Any) -> None:
    response = getattr(conn.shared_file_system, method)(path, headers=dict(sfs.HEADERS), **kwargs)
    sdk_exc.raise_from_response(response)


def _share(conn: Any, r: Resource) -> Result:
    group = r.attributes.get("share_group_id")
    params = {"share_group_id": group} if group else None
    return accepted(lambda: _call(conn, "delete", f"/shares/{r.id}", params=params))


def _access_rule(conn: Any, r: Resource) -> Result:
    body = {"deny_access": {"access_id": r.id}}
    share_id = r.attributes["share_id"]
    return accepted(lambda: _call(conn, "post", f"/shares/{share_id}/action", json=body))


def _path(prefix: str) -> Callable[[Any, Resource], Result]:
    return lambda c, r: accepted(lambda: _call(c, "delete", f"{prefix}/{r.id}"))


DELETERS: Mapping[str, Callable[[Any, Resource], Result]] = {
    sfs.SHARE.name: _share,
    sfs.SNAPSHOT.name: _path("/snapshots"),
    sfs.REPLICA.name: _path("/share-replicas"),
    sfs.ACCESS_RULE.name: _access_rule,
    sfs.SHARE_NETWORK.name: _path("/share-networks"),
    sfs.SHARE_GROUP.name: _path("/share-groups"),
    sfs.QUOTA.name: lambda c, r: synchronous(lambda: _call(c, "delete", f"/quota-sets/{r.id}")),
}


class _Listed:
    """A listed item, as the runner's confirmation reads it (``id``, ``status``)."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.id = item["id"]
        self.status = item.get("status") or item.get("state")


def _listed(items: Any) -> list[_Listed]:
    return [_Listed(i) for i in items]


def _of_shares(conn: Any, project_id: str | None, each: Callable[[Any, str], Any]) -> Any:
    """Replicas and rules of every share of the project (they carry no project)."""
    proxy = conn.shared_file_system
    found = []
    for item in sfs.of_project(proxy, "/shares/detail", "shares", str(project_id)):
        try:
            found += each(proxy, item["id"])
        except sdk_exc.NotFoundException:
            continue  # the share went meanwhile, and its replicas and rules with it
    return _listed(found)


def _project(path: str, key: str) -> Callable[[Any, str | None], Any]:
    return lambda c, p: _listed(sfs.of_project(c.shared_file_system, path, key, str(p)))


#: One listing per type and project confirms the asynchronous deletions.
LISTINGS: Mapping[str, Callable[[Any, str | None], Any]] = {
    sfs.SHARE.name: _project("/shares/detail", "shares"),
    sfs.SNAPSHOT.name: _project("/snapshots/detail", "snapshots"),
    sfs.SHARE_NETWORK.name: _project("/share-networks/detail", "share_networks"),
    sfs.SHARE_GROUP.name: _project("/share-groups/detail", "share_groups"),
    sfs.REPLICA.name: lambda c, p: _of_shares(c, p, sfs.replicas),
    sfs.ACCESS_RULE.name: lambda c, p: _of_shares(c, p, sfs.access_rules),
}
