"""Actions that contain a resource without destroying it: stop, lock, tag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from openstack import exceptions as sdk_exc

from reaper.actions.base import Action, StepKey
from reaper.executor import Attempt, Result
from reaper.model import Resource

SERVER = frozenset({"compute.server"})


def stop_server(conn: Any, resource: Resource, current: Any = None) -> Result:
    """Power off; ``ACCEPTED`` until a listing shows SHUTOFF.

    ``current`` is the server as just read, when the caller has it: a server
    already powering off (an earlier attempt's stop was accepted, its answer
    lost) is not asked again, which Nova would refuse with a 409.
    """
    status = (current.status if current is not None else resource.status) or ""
    if status.upper() == "SHUTOFF":
        return Result.DONE
    if current is not None and getattr(current, "task_state", None) == "powering-off":
        return Result.ACCEPTED
    try:
        conn.compute.stop_server(resource.id)
    except sdk_exc.ConflictException as exc:
        if "stopped" in str(exc).lower():
            return Result.DONE  # stopped since discovery
        raise
    return Result.ACCEPTED


def tag_resource(conn: Any, resource: Resource, tags: Sequence[str]) -> None:
    """Add ``tags`` the way the resource's service keeps tags.

    Servers and images are handed to openstacksdk as objects with a tag list
    of their own: given a bare id, its ``add_tag`` appends to the class-wide
    default list, and from then on every server or image the process reads
    without tags (a server's nested image, say) shows the tag - a phantom
    ``reaper:keep`` would protect what nobody tagged.
    """
    from openstack.compute.v2.server import Server
    from openstack.image.v2.image import Image

    rtype, rid = resource.type, resource.id
    if rtype == "compute.server":
        for tag in tags:
            conn.compute.add_tag_to_server(Server.existing(id=rid, tags=[]), tag)
    elif rtype in ("block_storage.volume", "block_storage.snapshot"):
        metadata = {tag: "true" for tag in tags}
        if rtype == "block_storage.volume":
            conn.block_storage.set_volume_metadata(rid, **metadata)
        else:
            conn.block_storage.set_snapshot_metadata(rid, **metadata)
    elif rtype == "image.image":
        for tag in tags:
            conn.image.add_tag(Image.existing(id=rid, tags=[]), tag)
    elif rtype.startswith("network."):
        current = list(resource.attributes.get("tags") or ())
        getter = {
            "network.floating_ip": conn.network.get_ip,
            "network.port": conn.network.get_port,
            "network.router": conn.network.get_router,
            "network.subnet": conn.network.get_subnet,
            "network.network": conn.network.get_network,
            "network.security_group": conn.network.get_security_group,
        }[rtype]
        conn.network.set_tags(getter(rid), sorted({*current, *tags}))
    else:
        raise ValueError(f"{rtype} cannot be tagged")


class Stop(Action):
    name = "stop"
    description = "Power the server off; its disks and addresses stay."
    resource_types: ClassVar[frozenset[str]] = SERVER

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        return Attempt(stop_server(client, resource))


class Lock(Action):
    name = "lock"
    description = "Admin-lock the server so its (former) users cannot act on it."
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 255}},
    }
    resource_types: ClassVar[frozenset[str]] = SERVER

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        client.compute.lock_server(
            resource.id, locked_reason=params.get("reason", "locked by reaper")
        )
        return Attempt(Result.DONE)


class Tag(Action):
    name = "tag"
    description = "Add tags to the resource (metadata keys on Cinder resources)."
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["tags"],
        "properties": {
            "tags": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1, "maxLength": 60},
            }
        },
    }
    resource_types: ClassVar[frozenset[str]] = frozenset(
        {
            "compute.server",
            "block_storage.volume",
            "block_storage.snapshot",
            "network.floating_ip",
            "network.port",
            "network.router",
            "network.subnet",
            "network.network",
            "network.security_group",
            "image.image",
        }
    )

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        tag_resource(client, resource, params["tags"])
        return Attempt(Result.DONE)
