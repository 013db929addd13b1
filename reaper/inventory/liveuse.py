"""Live use: which of a deleted owner's resources a project that still exists uses.

Clouds share: a department's network is shared by RBAC with its course
projects, a golden image with member projects, a security group is named by
another project's rule. Deleting such a resource cuts the live project off
(or Neutron refuses with a 409 that would otherwise be retried forever). So
after every handler has run, each resource a project outside the scope
could use is looked up *by the resource* (admin listings filtered by the
network, the group, the image, never per project), and each use becomes a
typed edge in its attributes::

    reaper_used_by: [{project_id, type, id, detail, kind}]   # live users only
    in_use_by_live_project: true | false     # a use: a port, a rule, a server...
    shared_with_live_project: true | false   # a grant nothing uses yet

A use is what breaks the live project if the resource goes (its server's
port on the network, its rule naming the group, its server booted from the
image). A grant (an RBAC entry, an accepted image membership) only lets it
use the resource: the default policy keeps uses, and keeps the RBAC entry
that grants a use; a stricter policy can keep grants too
(``shared_with_live_project``). Once the live project stops using it, the
next plan reaps it.

A using project that Keystone no longer has is not a live user (its own
tombstone reaps what it had). Invariants, failing closed:

* a resource whose uses could not be listed, or whose user's existence
  Keystone could not confirm either way, counts as in live use (``detail``
  says why), and the inventory is incomplete;
* an RBAC entry of the owner is in use when its target uses the object it
  grants (revoking it would cut the project off, whether or not Neutron
  refuses).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reaper import log
from reaper.inventory.base import IN_USE, SHARED, USABLE_TYPES, USED_BY, Finding, Scope
from reaper.model import Resource, ResourceRef

LOG = log.get(__name__)

#: RBAC object types whose grants make the object used by the target project.
RBAC_OBJECTS = {
    "network": "network.network",
    "security_group": "network.security_group",
    "qos_policy": "network.qos_policy",
    "address_scope": "network.address_scope",
    "subnetpool": "network.subnet_pool",
}
#: A user id for "could not tell": fail closed.
UNKNOWN = "unknown"


@dataclass(frozen=True, order=True)
class Use:
    """``project_id`` uses the resource through its ``type``:``id`` (a port, a rule...)."""

    project_id: str
    type: str
    id: str
    detail: str = ""
    #: ``use`` or ``grant`` (see the module's docstring).
    kind: str = "use"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def annotate(
    conn: Any, scope: Scope, resources: Sequence[Resource]
) -> tuple[Finding, list[Resource]]:
    """``resources`` with :data:`FIELDS` on each usable one, and what went wrong.

    Fails closed: an error leaves every usable resource it may concern in use.
    """
    errors: list[str] = []
    uses: dict[ResourceRef, list[Use]] = defaultdict(list)
    ours = {r.ref for r in resources}
    for name, finder in _FINDERS:
        try:
            for ref, use in finder(conn, scope, resources):
                if ref in ours and use.project_id not in scope.project_ids:
                    uses[ref].append(use)
        except Exception as exc:
            LOG.warning("live-use lookup failed", lookup=name, error=str(exc))
            errors.append(f"live use of {name} not known ({type(exc).__name__}: {exc})")
            for r in resources:
                if r.type in _FINDER_TYPES[name]:
                    uses[r.ref].append(Use(UNKNOWN, r.type, r.id, "its users could not be listed"))
    _grants_in_use(resources, uses)
    live = _live_projects(conn, {u.project_id for us in uses.values() for u in us})
    out: list[Resource] = []
    for r in resources:
        if r.type not in USABLE_TYPES:
            out.append(r)
            continue
        kept = sorted(
            {_with_doubt(u, live) for u in uses.get(r.ref, ()) if live[u.project_id] is not None}
        )
        attrs = {
            **r.attributes,
            IN_USE: any(u.kind == "use" for u in kept),
            SHARED: any(u.kind == "grant" for u in kept),
            USED_BY: [u.as_dict() for u in kept],
        }
        out.append(dataclasses.replace(r, attributes=attrs))
    return Finding(handler="liveuse", errors=tuple(errors)), out


def _grants_in_use(resources: Sequence[Resource], uses: dict[ResourceRef, list[Use]]) -> None:
    """An RBAC entry whose target uses the object it grants is in use by that target."""
    for r in _of(resources, "network.rbac_policy"):
        obj_type = RBAC_OBJECTS.get(str(r.attributes.get("object_type")))
        target = r.attributes.get("target_project_id")
        if obj_type is None:
            continue
        obj = ResourceRef(obj_type, str(r.attributes.get("object_id")))
        for use in list(uses.get(obj, ())):
            if use.kind == "use" and use.project_id == target:
                detail = f"grants the use: {use.detail}"
                uses[r.ref].append(dataclasses.replace(use, detail=detail))


def _with_doubt(use: Use, live: Mapping[str, str | None]) -> Use:
    doubt = live[use.project_id]
    return dataclasses.replace(use, detail=f"{use.detail}; {doubt}") if doubt else use


def _live_projects(conn: Any, project_ids: Iterable[str]) -> dict[str, str | None]:
    """For each id: ``None`` when Keystone says it is gone, else ``""`` (live) or a doubt.

    A doubt (Keystone could not answer) is a detail that replaces the use's
    own, so the plan says why it kept the resource although it may be unused.
    """
    from openstack import exceptions  # the SDK is already loaded by then

    result: dict[str, str | None] = {}
    for pid in sorted(project_ids):
        if pid == UNKNOWN:
            result[pid] = ""
            continue
        try:
            conn.identity.get_project(pid)
            result[pid] = ""
        except exceptions.NotFoundException:
            result[pid] = None
        except Exception as exc:  # fail closed: not known to be gone
            result[pid] = f"Keystone could not say whether it exists: {type(exc).__name__}"
    return result


Found = Iterable[tuple[ResourceRef, Use]]


def _of(resources: Sequence[Resource], rtype: str) -> list[Resource]:
    return [r for r in resources if r.type == rtype]


def _rbac_grants(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """The owner's RBAC entries granting to a named other project: entry and object in use."""
    for r in _of(resources, "network.rbac_policy"):
        attrs = r.attributes
        target = attrs.get("target_project_id")
        if attrs.get("project_id") not in scope.project_ids or target in (None, "*"):
            continue
        action = attrs.get("action", "access")
        detail = f"{action} granted by RBAC entry {r.id}"
        use = Use(target, "network.rbac_policy", r.id, detail, kind="grant")
        yield r.ref, use
        obj_type = RBAC_OBJECTS.get(str(attrs.get("object_type")))
        if obj_type:
            yield ResourceRef(obj_type, str(attrs.get("object_id"))), use


def _network_ports(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """Other projects' ports on the owner's networks (servers, router interfaces, gateways)."""
    subnets_of: dict[str, list[Resource]] = defaultdict(list)
    for s in _of(resources, "network.subnet"):
        subnets_of[str(s.attributes.get("network_id"))].append(s)
    networks = {r.id for r in _of(resources, "network.network")} | set(subnets_of)
    router_owner: dict[str, str] = {}
    for nid in sorted(networks):
        for prt in conn.network.ports(network_id=nid):
            owner = prt.device_owner or ""
            project = prt.project_id or ""
            if owner == "network:router_gateway" and not project and prt.device_id:
                if prt.device_id not in router_owner:
                    router_owner[prt.device_id] = conn.network.get_router(prt.device_id).project_id
                project = router_owner[prt.device_id]
            if not project or project in scope.project_ids or owner == "network:dhcp":
                continue
            use = Use(project, "network.port", prt.id, _port_detail(prt))
            yield ResourceRef("network.network", nid), use
            on = {ip.get("subnet_id") for ip in prt.fixed_ips or ()}
            for s in subnets_of.get(nid, ()):
                if s.id in on:
                    yield s.ref, use


def _port_detail(prt: Any) -> str:
    owner = prt.device_owner or ""
    if owner.startswith("compute:") and prt.device_id:
        return f"port {prt.id} on server {prt.device_id}"
    if owner == "network:router_gateway":
        return f"gateway port {prt.id} of router {prt.device_id}"
    if owner.startswith("network:router_interface"):
        return f"interface port {prt.id} of router {prt.device_id}"
    return f"port {prt.id}" + (f" ({owner})" if owner else "")


def _group_rules(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """Other projects' security-group rules whose remote group is one of the owner's."""
    for g in _of(resources, "network.security_group"):
        for rule in conn.network.security_group_rules(remote_group_id=g.id):
            group = rule.security_group_id
            detail = f"rule {rule.id} of security group {group} names it as remote group"
            yield g.ref, Use(rule.project_id or "", "network.security_group_rule", rule.id, detail)


def _image_users(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """Accepted members of the owner's shared images, and others' servers booted from them."""
    for img in _of(resources, "image.image"):
        if img.attributes.get("visibility") == "shared":
            for mem in conn.image.members(img.id):
                if mem.status == "accepted":
                    detail = f"accepted member of image {img.id}"
                    use = Use(mem.member_id, "image.member", mem.member_id, detail, kind="grant")
                    yield img.ref, use
        for srv in conn.compute.servers(all_projects=True, image=img.id):
            yield img.ref, Use(srv.project_id, "compute.server", srv.id, f"server {srv.id}")


def _volume_servers(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """Others' servers the owner's volumes are attached to (multi-attach)."""
    for vol in _of(resources, "block_storage.volume"):
        for att in vol.attributes.get("attachments") or ():
            server_id = att.get("server_id")
            if server_id:
                srv = conn.compute.get_server(server_id)
                detail = f"attached to server {server_id}"
                yield vol.ref, Use(srv.project_id, "compute.server", server_id, detail)


def _floating_ports(conn: Any, scope: Scope, resources: Sequence[Resource]) -> Found:
    """The owner's floating IPs associated with other projects' ports."""
    for fip in _of(resources, "network.floating_ip"):
        port_id = fip.attributes.get("port_id")
        if port_id:
            prt = conn.network.get_port(port_id)
            if prt.project_id and prt.project_id not in scope.project_ids:
                use = Use(prt.project_id, "network.port", prt.id, _port_detail(prt))
                yield fip.ref, use


_FINDERS: tuple[tuple[str, Callable[[Any, Scope, Sequence[Resource]], Found]], ...] = (
    ("rbac", _rbac_grants),
    ("networks", _network_ports),
    ("security groups", _group_rules),
    ("images", _image_users),
    ("volumes", _volume_servers),
    ("floating IPs", _floating_ports),
)
_FINDER_TYPES: Mapping[str, frozenset[str]] = {
    "rbac": frozenset({"network.rbac_policy"}),
    "networks": frozenset({"network.network", "network.subnet"}),
    "security groups": frozenset({"network.security_group"}),
    "images": frozenset({"image.image"}),
    "volumes": frozenset({"block_storage.volume"}),
    "floating IPs": frozenset({"network.floating_ip"}),
}
