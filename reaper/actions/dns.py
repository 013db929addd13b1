"""Deleting Designate objects of any project, as an admin naming the project.

Designate acts on another project's objects when the admin names it with
``X-Auth-Sudo-Project-ID`` (or ``X-Auth-All-Projects``). A zone is deleted
with its shares (``X-Designate-Delete-Shares``; without it Designate refuses
a shared zone), answers 202 and goes in the worker: it is confirmed by
listing the project's zones. Recordsets, shares, transfer requests and quota
resets answer at once. A floating IP's reverse DNS (PTR) is unset with a
PATCH of ``ptrdname: null`` as the project; Designate answers 202 and the
worker removes the record: confirmed by listing the project's PTRs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openstack import exceptions as sdk_exc

from reaper.executor import Result
from reaper.inventory.dns import ALL_PROJECTS, sudo
from reaper.model import Resource


def _delete(conn: Any, path: str, headers: Mapping[str, str], done: Result) -> Result:
    response = conn.dns.delete(path, headers=dict(headers), raise_exc=False)
    if response.status_code == 404:
        return Result.GONE
    sdk_exc.raise_from_response(response)
    return done


def _zone(conn: Any, r: Resource) -> Result:
    headers = {**sudo(str(r.project_id)), "X-Designate-Delete-Shares": "true"}
    return _delete(conn, f"/zones/{r.id}", headers, Result.ACCEPTED)


def _recordset(conn: Any, r: Resource) -> Result:
    zone_id = r.attributes["zone_id"]
    return _delete(conn, f"/zones/{zone_id}/recordsets/{r.id}", ALL_PROJECTS, Result.DONE)


def _share(conn: Any, r: Resource) -> Result:
    zone_id = r.attributes["zone_id"]
    return _delete(conn, f"/zones/{zone_id}/shares/{r.id}", ALL_PROJECTS, Result.DONE)


def _transfer(conn: Any, r: Resource) -> Result:
    path = f"/zones/tasks/transfer_requests/{r.id}"
    return _delete(conn, path, ALL_PROJECTS, Result.DONE)


def _ptr(conn: Any, r: Resource) -> Result:
    response = conn.dns.patch(
        f"/reverse/floatingips/{r.id}",
        json={"ptrdname": None},
        headers=sudo(str(r.project_id)),
        raise_exc=False,
    )
    if response.status_code == 404:
        return Result.GONE
    sdk_exc.raise_from_response(response)
    return Result.ACCEPTED


def _ptrs(conn: Any, project_id: str | None) -> list[Any]:
    """The project's floating IPs that still have a PTR (Designate lists only those)."""
    return [f for f in conn.dns.floating_ips(project_id=project_id) if f.ptrdname]


def _quota(conn: Any, r: Resource) -> Result:
    return _delete(conn, f"/quotas/{r.id}", ALL_PROJECTS, Result.DONE)


DELETERS: Mapping[str, Callable[[Any, Resource], Result]] = {
    "dns.zone": _zone,
    "dns.recordset": _recordset,
    "dns.zone_share": _share,
    "dns.zone_transfer_request": _transfer,
    "dns.floatingip_ptr": _ptr,
    "dns.quota": _quota,
}

LISTINGS: Mapping[str, Callable[[Any, str | None], Any]] = {
    "dns.zone": lambda c, p: c.dns.zones(project_id=p),
    "dns.floatingip_ptr": _ptrs,
}
