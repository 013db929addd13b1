"""Handing a kept resource over, or keeping it for good: ``reaper release``'s two edges.

A deleted project's resource that a live project uses waits (``reaper
tombstone show``). An operator may end the wait two ways, each one call:

* :func:`hand_over`: the live project becomes its owner, where the service
  lets an administrator change the owner: Glance's image ``owner``; Neutron
  is asked to change ``project_id`` and its refusal (most of its resources
  have a read-only project) is reported as it is;
* :func:`keep_for_good`: the resource is tagged ``reaper:keep`` (a metadata
  key for a Cinder volume), the decision the shipped policies honour: it
  is never reaped, and whatever it contains (the subnet, the RBAC entry of
  a network) is kept with it.

An RBAC entry has no owner to change and no tag: it follows the object it
shares, so :class:`HandoverRefused` names that object instead.
"""

from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exc

from reaper.model import ResourceRef

KEEP_TAG = "reaper:keep"

_NEUTRON = {
    "network.network": ("get_network", "update_network"),
    "network.subnet": ("get_subnet", "update_subnet"),
    "network.security_group": ("get_security_group", "update_security_group"),
    "network.floating_ip": ("get_ip", "update_ip"),
    "network.qos_policy": ("get_qos_policy", "update_qos_policy"),
    "network.address_scope": ("get_address_scope", "update_address_scope"),
    "network.subnet_pool": ("get_subnet_pool", "update_subnet_pool"),
}


class HandoverRefused(Exception):
    """The service (or the kind of resource) does not allow it; the message says what does."""


def hand_over(conn: Any, ref: ResourceRef, project_id: str) -> str:
    """Make ``project_id`` the owner of ``ref``; what was done, in words."""
    try:
        if ref.type == "image.image":
            conn.image.update_image(ref.id, owner=project_id)
            return f"Glance image owner set to {project_id}"
        if ref.type in _NEUTRON:
            _, update = _NEUTRON[ref.type]
            getattr(conn.network, update)(ref.id, project_id=project_id)
            return f"Neutron project_id set to {project_id}"
    except sdk_exc.HttpException as exc:
        raise HandoverRefused(
            f"{_service(ref)} refused to change the owner of {ref}: {_said(exc)}; "
            "record the decision with --forget instead"
        ) from exc
    if ref.type == "network.rbac_policy":
        raise HandoverRefused(_rbac())
    if ref.type == "block_storage.volume":
        raise HandoverRefused(
            f"Cinder moves {ref} only through a transfer the receiving project accepts "
            "(openstack volume transfer request create); or record the decision with --forget"
        )
    raise HandoverRefused(f"reaper cannot change the owner of a {ref.type}; use --forget")


def keep_for_good(conn: Any, ref: ResourceRef) -> str:
    """Tag ``ref`` ``reaper:keep`` (the shipped policies never reap it); what was done."""
    from openstack.image.v2.image import Image

    try:
        if ref.type == "image.image":
            # A fresh object with its own tag list: see reaper.actions.server.tag_resource.
            conn.image.add_tag(Image.existing(id=ref.id, tags=[]), KEEP_TAG)
            return f"image tagged {KEEP_TAG}"
        if ref.type == "block_storage.volume":
            conn.block_storage.set_volume_metadata(ref.id, **{KEEP_TAG: "true"})
            return f"volume metadata key {KEEP_TAG} set"
        if ref.type in _NEUTRON:
            get, _ = _NEUTRON[ref.type]
            current = getattr(conn.network, get)(ref.id)
            conn.network.set_tags(current, sorted({*(current.tags or ()), KEEP_TAG}))
            return f"tagged {KEEP_TAG}"
    except sdk_exc.HttpException as exc:
        raise HandoverRefused(f"{_service(ref)} refused to tag {ref}: {_said(exc)}") from exc
    if ref.type == "network.rbac_policy":
        raise HandoverRefused(_rbac())
    raise HandoverRefused(f"reaper cannot tag a {ref.type} {KEEP_TAG}")


def _rbac() -> str:
    return (
        "an RBAC entry has no owner to change and no tag: release the object it shares "
        "(the network or security group), and the entry is kept with it"
    )


def _service(ref: ResourceRef) -> str:
    return {"network": "Neutron", "image": "Glance", "block_storage": "Cinder"}.get(
        ref.service, ref.service
    )


def _said(exc: sdk_exc.HttpException) -> str:
    details = getattr(exc, "details", None) or str(exc)
    return f"HTTP {exc.status_code}: {str(details).splitlines()[0][:300]}"
