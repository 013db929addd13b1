"""DNS (Designate): zones, recordsets, zone shares, zone transfer requests, quotas,
and the recordsets of *other* projects that point at what the deleted one leaves.

Designate has no owner filter in its query strings: an admin names the
project with the ``X-Auth-Sudo-Project-ID`` header (openstacksdk's
``project_id`` argument), and every item says its ``project_id``, which is
re-checked. Listing as the project also returns zones *shared with* it:
those are not its own, but its share of them is revoked, and the recordsets
it created in them are deleted. Its own zones' recordsets and shares go
with the zone (deleted with ``X-Designate-Delete-Shares``).

Dangling DNS. When reaper releases a project's floating IPs and deletes its
ports, any A/AAAA record anywhere that still points at those addresses lets
the next tenant who gets the address serve content under that name; a
CNAME (or PTR) pointing into the project's zones dangles the same way once
the zones are gone. :meth:`DnsInventory.cross_reference` looks, after every
handler has answered, for every recordset in any project whose data is one
of the project's floating or fixed addresses, or a name in one of its
zones. Those are reported with ``reaper_relation = dangling`` and
``reaper_points_at`` (what they point at), for the policies to decide
(report by default: they belong to someone else).

Reverse DNS. Designate keeps the PTR record of a floating IP (``/v2/reverse/
floatingips``, set by the project's user) in a zone of its own managed
project, keyed by the floating IP's id: nothing of the project's zones or
recordsets, and Designate removes it only when its sink hears Neutron's
notification, which many clouds do not run. Left behind, the released
address keeps resolving back to the deleted project's name for whoever gets
it next. So :meth:`DnsInventory.cross_reference` lists, as each project
(sudo), the PTRs of its floating IPs (``dns.floatingip_ptr``), keeps only
those of floating IPs the network handler found the project owns (the owner
re-check: the PTR listing itself carries no owner), and each is unset before
its floating IP is released (``address`` edge).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.dns.v2 import floating_ip, recordset, zone, zone_share, zone_transfer

from reaper.inventory.base import (
    RELATION_DANGLING,
    RELATION_OWNER,
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

ZONE = ResourceType.from_sdk(
    "dns.zone", zone.Zone, description="A Designate zone; its recordsets and shares go with it."
)
RECORDSET = ResourceType.from_sdk(
    "dns.recordset",
    recordset.Recordset,
    extra_fields=("zone_id", "reaper_points_at"),
    description="A recordset the project created in another project's shared zone, or, with "
    "reaper_relation 'dangling', a recordset of any project whose data points at an "
    "address or zone the deleted project leaves (reaper_points_at says which).",
)
ZONE_SHARE = ResourceType.from_sdk(
    "dns.zone_share",
    zone_share.ZoneShare,
    owner_fields=("target_project_id",),
    extra_fields=("zone_id",),
    description="Another project's zone shared with the project; the share is revoked.",
)
TRANSFER_REQUEST = ResourceType.from_sdk(
    "dns.zone_transfer_request",
    zone_transfer.ZoneTransferRequest,
    owner_fields=("project_id", "target_project_id"),
    description="A pending zone transfer from or to the project.",
)
FLOATINGIP_PTR = ResourceType.from_sdk(
    "dns.floatingip_ptr",
    floating_ip.FloatingIP,
    extra_fields=("project_id", "floatingip_id", "region"),
    description="The reverse DNS (PTR) record of one of the project's floating IPs "
    "(id region:floating-ip-id); unset before the address is released, so its next "
    "holder does not inherit the project's name.",
)
QUOTA = ResourceType("dns.quota", description="The project's Designate quotas (reset to defaults).")

#: Record types whose data is an address, and those whose data is a name.
ADDRESS_TYPES = frozenset({"A", "AAAA"})
NAME_TYPES = frozenset({"CNAME", "PTR"})
ALL_PROJECTS = {"X-Auth-All-Projects": "true"}


def sudo(project_id: str) -> dict[str, str]:
    return {"X-Auth-Sudo-Project-ID": project_id}


class DnsInventory(Handler):
    service_type = "dns"
    optional = True
    types = (ZONE, RECORDSET, ZONE_SHARE, TRANSFER_REQUEST, FLOATINGIP_PTR, QUOTA)

    def discover(self, conn: Any, scope: Scope) -> Finding:
        dns = conn.dns
        found = Collector("dns", scope)
        for pid in sorted(scope.project_ids):
            listed = gather(
                {
                    "zones": lambda pid=pid: list(dns.zones(project_id=pid)),
                    "transfers": lambda pid=pid: list(dns.zone_transfer_requests(project_id=pid)),
                }
            )
            own = [z for z in listed["zones"] if z.project_id == pid]
            for item in listed["zones"]:
                if item.project_id != pid and item.project_id:
                    found.mismatches.append(resource_from_sdk(ZONE, item))
            for item in own:
                found.add(ZONE, resource_from_sdk(ZONE, item))
            foreign = [z for z in listed["zones"] if z.project_id != pid]
            self._shared_with(conn, found, pid, foreign)
            for item in listed["transfers"]:
                edges = [Edge("zone", ResourceRef(ZONE.name, item.zone_id))]
                found.add(TRANSFER_REQUEST, resource_from_sdk(TRANSFER_REQUEST, item, edges=edges))
            if scope.identity.kind is not IdentityKind.USER:
                found.add(QUOTA, quota_resource(QUOTA, pid))
        return found.finding()

    @staticmethod
    def _shared_with(conn: Any, found: Collector, pid: str, zones: Sequence[Any]) -> None:
        """The project's shares of others' zones, and its recordsets in them."""
        for item in zones:
            for share in conn.dns.zone_shares(item.id, all_projects=True):
                if share.target_project_id != pid:
                    continue
                attrs = {**share.to_dict(computed=False), "zone_id": item.id}
                attrs.pop("location", None)
                found.add(
                    ZONE_SHARE,
                    Resource(
                        type=ZONE_SHARE.name,
                        id=share.id,
                        project_id=share.target_project_id,
                        attributes=attrs,
                    ),
                )
            for rs in conn.dns.recordsets(item.id, project_id=pid):
                if rs.project_id == pid and rs.type not in ("SOA", "NS"):
                    found.add(RECORDSET, _recordset(rs.to_dict(computed=False), item.id))

    def cross_reference(self, conn: Any, scope: Scope, resources: Sequence[Resource]) -> Finding:
        """Recordsets of any project that point at what ``resources`` leave behind,
        and the reverse DNS records of the project's own floating IPs."""
        found = Collector("dns.dangling", scope)
        _reverse_records(conn, found, resources)
        addresses = sorted(_addresses(resources))
        names = sorted(r.name for r in resources if r.type == ZONE.name and r.name)
        own_zones = {r.id for r in resources if r.type == ZONE.name}
        seen: set[str] = set()
        searches = {f"address:{a}": a for a in addresses}
        searches.update({f"name:{n}": f"*{n}" for n in names})
        listed = gather(
            {key: lambda data=data: list(search(conn, data)) for key, data in searches.items()},
            workers=4,
        )
        for key in sorted(listed):
            kind, _, target = key.partition(":")
            for item in listed[key]:
                if item["id"] in seen or item.get("zone_id") in own_zones:
                    continue  # goes with the project's own zone
                if not _points_at(item, kind, target):
                    continue
                seen.add(item["id"])
                resource = _recordset(item, item.get("zone_id"), points_at=target)
                found.add_reference(RECORDSET, resource, RELATION_DANGLING)
        return found.finding()


def _reverse_records(conn: Any, found: Collector, resources: Sequence[Resource]) -> None:
    """The PTRs of the floating IPs in ``resources`` that the project owns, one listing each.

    Designate lists a project's PTRs by asking Neutron for that project's floating
    IPs; an entry whose floating IP the network handler did not find owned by the
    same project is a mismatch, never acted on.
    """
    owned: dict[str, str] = {
        r.id: str(r.project_id)
        for r in resources
        if r.type == "network.floating_ip"
        and r.project_id in found.scope.project_ids
        and r.attributes.get("reaper_relation") == RELATION_OWNER
    }
    projects = sorted(set(owned.values()))
    try:
        listed = gather(
            {pid: lambda pid=pid: list(conn.dns.floating_ips(project_id=pid)) for pid in projects},
            workers=4,
        )
    except Exception as exc:  # Designate asks Neutron for these, and may fail to
        # The DNS finding is incomplete (its steps are not run unchecked); the search for
        # dangling records still stands on its own.
        found.errors.append(f"reverse DNS of floating IPs: {type(exc).__name__}: {exc}")
        return
    for pid in projects:
        for item in listed[pid]:
            if not item.ptrdname:
                continue
            region, _, fip_id = str(item.id).partition(":")
            attrs = {k: v for k, v in item.to_dict(computed=False).items() if k != "location"}
            attrs.update(project_id=pid, floatingip_id=fip_id, region=region)
            resource = Resource(
                type=FLOATINGIP_PTR.name,
                id=str(item.id),
                name=item.address,
                project_id=pid,
                status=item.status,
                attributes=attrs,
                edges=(Edge("address", ResourceRef("network.floating_ip", fip_id)),),
            )
            if owned.get(fip_id) != pid:
                found.mismatches.append(resource)
                continue
            found.add(FLOATINGIP_PTR, resource)


def search(conn: Any, data: str) -> Iterator[dict[str, Any]]:
    """Every recordset of every project whose data matches ``data`` (``*`` wildcards).

    openstacksdk 4.22 cannot list ``/recordsets`` across projects (it drops the
    path when given ``all_projects``), so this asks the API itself, page by page.
    """
    url: str | None = "/recordsets"
    params: Mapping[str, str] | None = {"data": data, "limit": "1000"}
    while url:
        response = conn.dns.get(url, params=params, headers=ALL_PROJECTS, raise_exc=False)
        sdk_exc.raise_from_response(response)
        body = response.json()
        yield from body.get("recordsets", ())
        url, params = (body.get("links") or {}).get("next"), None


def _addresses(resources: Iterable[Resource]) -> set[str]:
    """The floating and fixed addresses of the project's floating IPs and ports."""
    found: set[str] = set()
    for r in resources:
        if r.type == "network.floating_ip" and r.attributes.get("floating_ip_address"):
            found.add(str(r.attributes["floating_ip_address"]))
        elif r.type == "network.port":
            for ip in r.attributes.get("fixed_ips") or ():
                if isinstance(ip, Mapping) and ip.get("ip_address"):
                    found.add(str(ip["ip_address"]))
    return found


def _points_at(item: Mapping[str, Any], kind: str, target: str) -> bool:
    records = [str(r) for r in item.get("records") or ()]
    if kind == "address":
        return item.get("type") in ADDRESS_TYPES and target in records
    return item.get("type") in NAME_TYPES and any(
        r == target or r.endswith("." + target) for r in records
    )


def _recordset(
    data: Mapping[str, Any], zone_id: str | None, points_at: str | None = None
) -> Resource:
    attrs = {k: v for k, v in data.items() if k not in ("location", "links")}
    attrs["zone_id"] = zone_id
    if points_at is not None:
        attrs["reaper_points_at"] = points_at
    edges = (Edge("zone", ResourceRef(ZONE.name, zone_id)),) if zone_id else ()
    return dataclasses.replace(
        Resource(
            type=RECORDSET.name,
            id=str(data["id"]),
            name=data.get("name"),
            project_id=data.get("project_id"),
            status=data.get("status"),
            attributes=attrs,
        ),
        edges=edges,
    )
