"""Images: those the project owns, and its memberships of others' images.

Glance filters by ``owner``; ``visibility=all`` makes an admin's listing
include private, shared and community images, and hidden images
(``os_hidden``) need a listing of their own because Glance leaves them out
otherwise. Memberships have no listing by member for an admin (Glance
filters by member only for the member's own token, which a deleted project
cannot have): reaper lists the shared images (1,000 a page) and reads their
members, a cost that grows with the cloud's shared images, not with the
tenant. So that read is shared (:mod:`.cloudwide`): one read begun after a
storm's projects were gone serves every one of their discoveries, instead
of one member GET per shared image per project (issue 18).
"""

from __future__ import annotations

from typing import Any

from openstack.image.v2 import image, member

from reaper.inventory import cloudwide
from reaper.inventory.base import (
    Collector,
    Finding,
    Handler,
    ResourceType,
    Scope,
    gather,
    resource_from_sdk,
)
from reaper.inventory.shelf import Codec
from reaper.model import Edge, Resource, ResourceRef

IMAGE = ResourceType.from_sdk(
    "image.image",
    image.Image,
    owner_fields=("owner",),
    description="A Glance image owned by the project.",
)
MEMBER = ResourceType.from_sdk(
    "image.member",
    member.Member,
    owner_fields=("member_id",),
    extra_fields=("image_id",),
    description="The project's membership of another project's shared image.",
)


class ImageInventory(Handler):
    service_type = "image"
    types = (IMAGE, MEMBER)
    listings = 3

    def discover(self, conn: Any, scope: Scope) -> Finding:
        img = conn.image
        found = Collector("image", scope)
        if not scope.project_ids:
            return found.finding()
        calls: dict[str, Any] = {
            "shared": lambda: [
                cloudwide.PROCESS.read(
                    cloudwide.endpoint_of(img),
                    "image.members",
                    lambda: shared_members(img),
                    gone_by=scope.gone_by,
                    codec=MEMBERS,
                )
            ]
        }
        for pid in sorted(scope.project_ids):
            calls[f"owned:{pid}"] = lambda pid=pid: list(img.images(owner=pid, visibility="all"))
            calls[f"hidden:{pid}"] = lambda pid=pid: list(
                img.images(owner=pid, visibility="all", is_hidden=True)
            )
        listed = gather(calls)
        seen: set[str] = set()
        for name, items in sorted(listed.items()):
            if name == "shared":
                continue
            for obj in items:
                if obj.id not in seen:
                    seen.add(obj.id)
                    found.add(IMAGE, resource_from_sdk(IMAGE, obj, project_id=obj.owner))
        (members,) = listed["shared"]
        for image_id, (owner, items) in sorted(members.items()):
            if owner in scope.project_ids:
                continue  # the project's own image: deleted with its memberships
            for mem in items:
                if mem.member_id not in scope.project_ids:
                    continue
                attrs = {**mem.to_dict(computed=False), "image_id": image_id}
                attrs.pop("location", None)
                found.add(
                    MEMBER,
                    Resource(
                        type=MEMBER.name,
                        id=f"{image_id}:{mem.member_id}",
                        project_id=mem.member_id,
                        status=mem.status,
                        attributes=attrs,
                        edges=(Edge("image", ResourceRef(IMAGE.name, image_id)),),
                    ),
                )
        return found.finding()


#: Images asked per page of the shared listing (Glance's default ``api_limit_max``; it
#: answers 25 without ``limit``, so 2,000 shared images were 80 round trips).
PAGE = 1000


def shared_members(img: Any) -> dict[str, tuple[str | None, list[Any]]]:
    """Every shared image of the cloud: its owner and its members (one GET per image)."""
    images = list(img.images(visibility="shared", limit=PAGE))
    members = gather({i.id: lambda i=i: list(img.members(i)) for i in images}, workers=4)
    return {i.id: (i.owner, members.get(i.id, [])) for i in images}


def _encode_members(read: dict[str, tuple[str | None, list[Any]]]) -> list[Any]:
    return [
        [image_id, owner, [m.to_dict(computed=False) for m in items]]
        for image_id, (owner, items) in read.items()
    ]


def _decode_members(stored: list[Any]) -> dict[str, tuple[str | None, list[Any]]]:
    return {
        image_id: (owner, [member.Member.existing(**attrs) for attrs in items])
        for image_id, owner, items in stored
    }


#: :func:`shared_members`'s answer as the store keeps it for other controllers (shelf.py).
MEMBERS = Codec(encode=_encode_members, decode=_decode_members)
