"""Reading a field of a resource the way policies name it.

A key is a dotted path into the resource's attributes (the openstacksdk
``to_dict(computed=False)`` names plus reaper's ``reaper_*`` fields):
``is_shared``, ``metadata.owner``, ``flavor.name``; an all-digits part
indexes a list (``fixed_ips.0.subnet_id``). The :data:`COMMON_FIELDS`
(``id``, ``name``, ``project_id``...) fall back to the values reaper
normalised on the :class:`~reaper.model.Resource` when the service's own
attributes lack them (an image has ``owner``, not ``project_id``).

A missing value is :data:`MISSING`, never an exception: filters decide what
missing means (no match), protect rules decide too (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from reaper.inventory.base import COMMON_FIELDS
from reaper.model import Resource


class _Missing:
    """The value of a field the resource does not have."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

#: Where tags and tag-like keys live: Nova/Neutron/Glance ``tags`` lists, and the
#: ``metadata`` (Nova, Cinder) and ``properties`` (Glance) mappings.
TAG_FIELDS: Final = ("tags", "metadata", "properties")
METADATA_FIELDS: Final = ("metadata", "properties")


def first(key: str) -> str:
    """The top-level field a dotted key starts with: what the schema can check."""
    return key.split(".", 1)[0]


def top(resource: Resource, name: str) -> Any:
    """A top-level field: the service's attribute, else reaper's normalised value."""
    attrs = resource.attributes
    if name in attrs:
        return attrs[name]
    if name in COMMON_FIELDS:
        value = getattr(resource, name, None)
        if value is not None:
            return value
    return MISSING


def get(resource: Resource, key: str) -> Any:
    """The value at dotted ``key``, or :data:`MISSING`."""
    head, _, rest = key.partition(".")
    value = top(resource, head)
    if not rest:
        return value
    for part in rest.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, MISSING)
        elif (
            isinstance(value, Sequence)
            and not isinstance(value, (str, bytes))
            and part.isdigit()
            and int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return MISSING
    return value
