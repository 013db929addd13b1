"""Images: private images the project owns, and memberships granted to it."""

from __future__ import annotations

from openstack.image.v2 import image, member

from reaper.inventory.base import Finding, Handler, ResourceType, Scope

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

    def discover(self, conn, scope: Scope) -> Finding:  # type: ignore[no-untyped-def]
        raise NotImplementedError
