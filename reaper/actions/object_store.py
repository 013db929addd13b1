"""Deleting Swift containers (emptied first) and accounts, as a reseller admin.

A container cannot be deleted while it holds objects (409), so its deletion
lists its objects a page at a time and removes each page: with one bulk
delete request where the cluster's ``/info`` offers ``bulk_delete`` (up to
its ``max_deletes_per_request`` objects at once), otherwise one DELETE per
object, a few at a time. Objects written meanwhile make the container's
DELETE answer 409 again, which the executor retries (listing anew). A large
object's manifest is deleted as an object; its segments go with their own
container. The account's DELETE comes last (the planner orders it after
every container).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from openstack import exceptions as sdk_exc

from reaper.executor import Result, Transient
from reaper.inventory.object_store import account_url
from reaper.model import Resource

#: Objects listed (and deleted) per round when the cluster has no bulk delete.
PAGE = 1000
#: Concurrent object DELETEs without bulk delete.
OBJECT_WORKERS = 8
_INFO_LOCK = threading.Lock()
_INFO: dict[str, Mapping[str, Any]] = {}


def cluster_info(conn: Any) -> Mapping[str, Any]:
    """The cluster's ``/info`` (capabilities), asked once per storage endpoint."""
    endpoint = str(conn.object_store.get_endpoint())
    root = endpoint.split("/v1/", 1)[0]
    with _INFO_LOCK:
        if root not in _INFO:
            response = conn.object_store.get(f"{root}/info", raise_exc=False)
            _INFO[root] = response.json() if response.status_code == 200 else {}
        return _INFO[root]


def bulk_limit(conn: Any) -> int:
    """Objects one bulk delete request may name (0: the cluster has no bulk delete)."""
    bulk = cluster_info(conn).get("bulk_delete")
    if not isinstance(bulk, Mapping):
        return 0
    return int(bulk.get("max_deletes_per_request") or 10000)


def delete_container(conn: Any, r: Resource) -> Result:
    project_id = r.attributes.get("project_id") or r.project_id
    name = str(r.attributes.get("name") or r.name)
    account = account_url(conn, str(project_id))
    url = f"{account}/{quote(name, safe='')}"
    emptied = _empty(conn, account, url, name)
    response = conn.object_store.delete(url, raise_exc=False)
    if response.status_code == 404:
        return Result.DONE if emptied else Result.GONE
    if response.status_code == 409:
        raise Transient(f"container {name} is not empty yet (objects written meanwhile?)")
    sdk_exc.raise_from_response(response)
    return Result.DONE


def _empty(conn: Any, account: str, url: str, name: str) -> int:
    """Delete every object of the container, page by page; how many were deleted."""
    limit = bulk_limit(conn)
    deleted = 0
    while True:
        params = {"format": "json", "limit": str(limit or PAGE)}
        response = conn.object_store.get(url, params=params, raise_exc=False)
        if response.status_code == 404:
            return deleted
        sdk_exc.raise_from_response(response)
        names = [o["name"] for o in (response.json() if response.content else [])]
        if not names:
            return deleted
        if limit:
            _bulk_delete(conn, account, name, names)
        else:
            _one_by_one(conn, url, names)
        deleted += len(names)


def _bulk_delete(conn: Any, account: str, container: str, names: list[str]) -> None:
    body = "\n".join(f"/{quote(container, safe='')}/{quote(n, safe='')}" for n in names)
    response = conn.object_store.post(
        f"{account}?bulk-delete",
        data=body.encode(),
        headers={"Content-Type": "text/plain", "Accept": "application/json"},
        raise_exc=False,
    )
    sdk_exc.raise_from_response(response)
    report = response.json() if response.content else {}
    # Objects already gone count as "Number Not Found", not as errors.
    errors = [e for e in report.get("Errors") or () if not str(e[-1]).startswith("404")]
    if errors:
        raise Transient(f"bulk delete in {container}: {len(errors)} failed, first {errors[0]}")


def _one_by_one(conn: Any, url: str, names: list[str]) -> None:
    def delete(name: str) -> None:
        response = conn.object_store.delete(f"{url}/{quote(name, safe='')}", raise_exc=False)
        if response.status_code not in (204, 404):
            sdk_exc.raise_from_response(response)

    with concurrent.futures.ThreadPoolExecutor(OBJECT_WORKERS) as pool:
        list(pool.map(delete, names))


def delete_account(conn: Any, r: Resource) -> Result:
    url = account_url(conn, str(r.attributes.get("project_id") or r.project_id))
    response = conn.object_store.delete(url, raise_exc=False)
    if response.status_code in (404, 410):
        return Result.GONE
    sdk_exc.raise_from_response(response)
    return Result.DONE


DELETERS = {
    "object_store.container": delete_container,
    "object_store.account": delete_account,
}
