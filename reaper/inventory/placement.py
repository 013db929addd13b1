"""Placement allocations that outlive their servers.

Nova frees a server's Placement allocation when the server is deleted, but
not always: a compute host that was down during the deletion ("local
delete"), a failed migration, a crash between the two writes leave a
consumer whose server no longer exists. Its resources stay claimed on the
host for ever: the scheduler sees them as used, and the project's usage
never falls to zero. Such an allocation is a resource of the deleted
project like any other (``placement.allocation``, owner re-checked against
Placement's own ``project_id`` for the consumer), which the policies delete
or report.

Placement cannot list a project's consumers, only its totals
(``GET /usages?project_id=``) and each provider's consumers. So the search
costs what is left over, not the size of the cloud:

1. the project's usage is read (one request); if every resource class is
   covered by the flavors of the servers Nova still lists for it, nothing
   can be orphaned and nothing more is asked;
2. otherwise each provider's allocations are listed, consumers that are the
   project's servers are set aside, and the others that could fit in the
   excess are read one by one (``GET /allocations/{consumer}`` gives the
   project); a migration's consumer is never taken (its server is mid-move);
3. a candidate of the project is an orphan only if Nova answers 404 for a
   server of that id, as admin.

Never raises: what could not be read is an error of the finding (the plan is
incomplete), and nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reaper.inventory.base import ResourceType
from reaper.model import Resource

ALLOCATION = ResourceType(
    "placement.allocation",
    fields=frozenset({"resources", "consumer_type", "providers", "server_exists"}),
    description="A Placement consumer of the project whose server no longer exists; "
    "deleting it frees the resources it still claims on its hosts.",
)
#: ``GET /allocations/{consumer}`` with ``project_id`` and ``consumer_type`` (1.38).
CONSUMER_VERSION = "1.38"
PROVIDERS_VERSION = "1.14"
USAGES_VERSION = "1.9"
#: Flavor fields (compute microversion 2.47+) and the Placement classes they claim.
FLAVOR_CLASSES = {"vcpus": "VCPU", "ram": "MEMORY_MB", "disk": "DISK_GB"}


def in_catalog(conn: Any) -> bool:
    """Whether the connection's catalog has Placement (a connection that cannot say has not)."""
    has_service = getattr(conn, "has_service", None)
    return bool(has_service and has_service("placement"))


def _json(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"Placement answered {response.status_code}: {response.text[:200]}")
    return response.json()


def expected(servers: Iterable[Any]) -> dict[str, float] | None:
    """What the servers' flavors claim, or None when a flavor does not say."""
    total: dict[str, float] = dict.fromkeys(FLAVOR_CLASSES.values(), 0.0)
    for srv in servers:
        flavor = getattr(srv, "flavor", None)
        values = {field: _field(flavor, field) for field in FLAVOR_CLASSES}
        if any(value is None for value in values.values()):
            return None
        for field, rc in FLAVOR_CLASSES.items():
            total[rc] += float(values[field] or 0)
    return total


def _field(flavor: Any, name: str) -> Any:
    if isinstance(flavor, Mapping):
        return flavor.get(name)
    return getattr(flavor, name, None)


def excess(usages: Mapping[str, float], claimed: Mapping[str, float] | None) -> dict[str, float]:
    """Usage beyond what the live servers claim, by class (all of it if unknown)."""
    if claimed is None:
        return {rc: float(v) for rc, v in usages.items() if v}
    return {
        rc: float(v) - claimed.get(rc, 0.0) for rc, v in usages.items() if v > claimed.get(rc, 0)
    }


def project_usages(conn: Any, project_id: str) -> Mapping[str, float] | Exception:
    """The project's Placement usage (one request), or why it could not be read; never raises.

    Read beside Nova's server listing (``compute.py``), not after it: the
    order does not matter, since an excess over the servers' flavors is only
    a reason to look further, and a consumer is an orphan only when Nova
    answers 404 for its server.
    """
    try:
        return _json(
            conn.placement.get(f"/usages?project_id={project_id}", microversion=USAGES_VERSION)
        ).get("usages", {})
    except Exception as exc:
        return exc


def orphans(
    conn: Any,
    project_id: str,
    servers: Iterable[Any],
    usages: Mapping[str, float] | Exception | None = None,
) -> tuple[list[Resource], list[str]]:
    """The project's allocations whose server is gone, and why the answer may be partial.

    ``usages`` is :func:`project_usages` read already; without it, it is read now.
    """
    servers = list(servers)
    placement = conn.placement
    try:
        usages = project_usages(conn, project_id) if usages is None else usages
        if isinstance(usages, Exception):
            raise usages
        over = excess(usages, expected(servers))
        if not over:
            return [], []
        known = {s.id for s in servers}
        providers = _json(placement.get("/resource_providers", microversion=PROVIDERS_VERSION)).get(
            "resource_providers", []
        )
        candidates: dict[str, dict[str, dict[str, float]]] = {}
        for provider in providers:
            listed = _json(
                placement.get(
                    f"/resource_providers/{provider['uuid']}/allocations",
                    microversion=PROVIDERS_VERSION,
                )
            ).get("allocations", {})
            for consumer, alloc in listed.items():
                resources = alloc.get("resources", {})
                if consumer in known or not _fits(resources, over):
                    continue
                candidates.setdefault(consumer, {})[provider["uuid"]] = resources
    except Exception as exc:
        return [], [f"placement allocations of {project_id} not inspected: {_why(exc)}"]
    found: list[Resource] = []
    errors: list[str] = []
    for consumer in sorted(candidates):
        try:
            resource = _orphan(conn, project_id, consumer)
        except Exception as exc:
            errors.append(f"placement consumer {consumer}: not inspected: {_why(exc)}")
            continue
        if resource is not None:
            found.append(resource)
    return found, errors


def _orphan(conn: Any, project_id: str, consumer: str) -> Resource | None:
    body = _json(conn.placement.get(f"/allocations/{consumer}", microversion=CONSUMER_VERSION))
    if body.get("project_id") != project_id or not body.get("allocations"):
        return None
    if str(body.get("consumer_type", "")).upper() == "MIGRATION":
        return None
    answer = conn.compute.get(f"/servers/{consumer}")
    if answer.status_code != 404:
        if answer.status_code >= 400:
            raise RuntimeError(f"Nova answered {answer.status_code} for server {consumer}")
        return None  # a server of that id exists: Nova's business, not an orphan
    resources: dict[str, float] = {}
    for alloc in body["allocations"].values():
        for rc, amount in alloc.get("resources", {}).items():
            resources[rc] = resources.get(rc, 0) + amount
    return Resource(
        type=ALLOCATION.name,
        id=consumer,
        project_id=body.get("project_id"),
        user_id=body.get("user_id"),
        attributes={
            "project_id": body.get("project_id"),
            "user_id": body.get("user_id"),
            "resources": resources,
            "providers": sorted(body["allocations"]),
            "consumer_type": body.get("consumer_type"),
            "server_exists": False,
        },
    )


def delete(conn: Any, consumer: str) -> bool:
    """Remove every allocation of ``consumer``; False when there was none (404)."""
    response = conn.placement.delete(f"/allocations/{consumer}", microversion=CONSUMER_VERSION)
    if response.status_code == 404:
        return False
    if response.status_code >= 400:
        from openstack import exceptions as sdk_exc

        sdk_exc.raise_from_response(response)
    return True


def _fits(resources: Mapping[str, float], over: Mapping[str, float]) -> bool:
    return any(rc in over for rc in resources) and all(
        amount <= over.get(rc, 0)
        for rc, amount in resources.items()
        if rc in FLAVOR_CLASSES.values()
    )


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
