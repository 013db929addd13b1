"""Object storage (Swift): a project's account and its containers.

Swift keeps a project's data in the account ``<reseller prefix><project id>``
(``AUTH_<id>`` by default). A token scoped to a deleted project cannot exist,
so reaper reaches the account as a *reseller admin* (keystoneauth's
``reseller_admin_role``): the account's URL is reaper's own storage URL with
reaper's project id replaced by the deleted one's, which keeps whatever
prefix the cluster uses. The account named in the URL is the owner, so the
owner re-check compares every container's account with the project asked for.

Containers are the unit of cleanup: a container's deletion empties it first
(bulk delete where the cluster offers it, otherwise object by object, page
by page), so a container of a million objects is one step, not a million.
Large objects' segments live in containers of their own, conventionally
``<container>_segments`` (python-swiftclient and openstacksdk both use that
name): those are removed after the container of their manifests. The
account goes last: deleting it does not delete its data (the account reaper
does that, later), and a public container stays readable until its objects
are gone, so reaper removes the objects and containers itself first.

Swift answers for an account nobody ever wrote to as if it existed (with
``account_autocreate``): an account with no container and no metadata is not
reported.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from openstack import exceptions as sdk_exc

from reaper.inventory.base import Collector, Finding, Handler, ResourceType, Scope
from reaper.model import Edge, Resource, ResourceRef

ACCOUNT = ResourceType(
    "object_store.account",
    fields=frozenset({"account", "container_count", "object_count", "bytes_used", "metadata"}),
    description="The project's Swift account; deleted after its containers.",
)
CONTAINER = ResourceType(
    "object_store.container",
    fields=frozenset(
        {"account", "count", "bytes", "last_modified", "segments_of", "storage_policy"}
    ),
    description="A Swift container; its deletion empties it first (bulk delete where the "
    "cluster supports it). segments_of names the container whose large objects' "
    "segments it holds.",
)
#: Containers listed per request (Swift's own maximum).
PAGE = 10000
SEGMENTS_SUFFIX = "_segments"
META_PREFIX = "x-account-meta-"


def account_url(conn: Any, project_id: str) -> str:
    """The URL of ``project_id``'s account, derived from reaper's own storage URL."""
    endpoint = str(conn.object_store.get_endpoint()).rstrip("/")
    base, _, own = endpoint.rpartition("/")
    mine = str(conn.current_project_id)
    prefix = own[: -len(mine)] if mine and own.endswith(mine) else "AUTH_"
    return f"{base}/{prefix}{project_id}"


def container_url(conn: Any, project_id: str, container: str) -> str:
    return f"{account_url(conn, project_id)}/{quote(container, safe='')}"


def account_of(url: str) -> str:
    """The account segment of an account or container URL."""
    path = url.split("?", 1)[0].rstrip("/")
    parts = path.split("/")
    version = next((i for i, part in enumerate(parts) if part == "v1"), None)
    return parts[version + 1] if version is not None and len(parts) > version + 1 else ""


class ObjectStoreInventory(Handler):
    service_type = "object-store"
    optional = True
    types = (ACCOUNT, CONTAINER)

    def discover(self, conn: Any, scope: Scope) -> Finding:
        found = Collector("object_store", scope)
        for pid in sorted(scope.project_ids):
            self._account(conn, found, pid)
        return found.finding()

    @staticmethod
    def _account(conn: Any, found: Collector, project_id: str) -> None:
        url = account_url(conn, project_id)
        containers, headers = list_account(conn, url)
        if headers is None:
            return  # no account (404/410): nothing was ever stored
        account = account_of(url)
        metadata = {
            k[len(META_PREFIX) :]: v for k, v in headers.items() if k.startswith(META_PREFIX)
        }
        if not containers and not metadata:
            return
        owner = project_id if account.endswith(project_id) else account
        found.add(
            ACCOUNT,
            Resource(
                type=ACCOUNT.name,
                id=project_id,
                name=account,
                project_id=owner,
                attributes={
                    "account": account,
                    "project_id": owner,
                    "container_count": _int(headers.get("x-account-container-count")),
                    "object_count": _int(headers.get("x-account-object-count")),
                    "bytes_used": _int(headers.get("x-account-bytes-used")),
                    "metadata": metadata,
                },
            ),
        )
        names = {c["name"] for c in containers}
        for item in containers:
            name = item["name"]
            edges = [Edge("account", ResourceRef(ACCOUNT.name, project_id))]
            segments_of = None
            if name.endswith(SEGMENTS_SUFFIX) and name[: -len(SEGMENTS_SUFFIX)] in names:
                segments_of = name[: -len(SEGMENTS_SUFFIX)]
            if name + SEGMENTS_SUFFIX in names:
                edges.append(
                    Edge(
                        "segments",
                        ResourceRef(CONTAINER.name, f"{project_id}/{name}{SEGMENTS_SUFFIX}"),
                    )
                )
            found.add(
                CONTAINER,
                Resource(
                    type=CONTAINER.name,
                    id=f"{project_id}/{name}",
                    name=name,
                    project_id=owner,
                    attributes={
                        "account": account,
                        "project_id": owner,
                        "name": name,
                        "count": item.get("count", 0),
                        "bytes": item.get("bytes", 0),
                        "last_modified": item.get("last_modified"),
                        "storage_policy": item.get("storage_policy"),
                        "segments_of": segments_of,
                    },
                    edges=tuple(edges),
                ),
            )


def list_account(conn: Any, url: str) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """Every container of the account at ``url`` (paged), and the account's headers.

    ``None`` headers when the account does not exist.
    """
    containers: list[dict[str, Any]] = []
    headers: dict[str, str] | None = None
    marker = ""
    while True:
        params = {"format": "json", "limit": str(PAGE)}
        if marker:
            params["marker"] = marker
        response = conn.object_store.get(url, params=params, raise_exc=False)
        if response.status_code in (404, 410):
            return [], None
        sdk_exc.raise_from_response(response)
        if headers is None:
            headers = {k.lower(): v for k, v in response.headers.items()}
        page = response.json() if response.status_code == 200 and response.content else []
        containers.extend(page)
        if len(page) < PAGE:
            return containers, headers
        marker = page[-1]["name"]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
