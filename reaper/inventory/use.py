"""A use of a resource, and the shape of the lookups that find uses (:mod:`.uses`).

Kept apart from the finders so that each service's finders can live in a module of
their own (:mod:`.volume_uses`) and still be gathered in one registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reaper.inventory.base import Scope
from reaper.model import Resource, ResourceRef

#: A user id for "could not tell": fail closed.
UNKNOWN = "unknown"


@dataclass(frozen=True, order=True)
class Use:
    """``project_id`` uses the resource through its ``type``:``id`` (a port, a rule...)."""

    project_id: str
    type: str
    id: str
    detail: str = ""
    #: ``use`` or ``grant`` (see :mod:`reaper.inventory.liveuse`).
    kind: str = "use"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


Found = Iterable[tuple[ResourceRef, Use]]
#: One question to the cloud (a listing, a GET, or a few that depend on one another),
#: independent of every other: its uses, read to the end on a worker thread.
Lookup = Callable[[], list[tuple[ResourceRef, Use]]]
#: The lookups that find the uses of the resources of the finder's types: building them
#: sends nothing (the requests go when :mod:`reaper.inventory.liveuse` runs them, together).
Finder = Callable[[Any, Scope, Sequence[Resource]], list[Lookup]]


def of(resources: Sequence[Resource], rtype: str) -> list[Resource]:
    return [r for r in resources if r.type == rtype]


def lookup(gen: Callable[..., Found], *args: Any) -> Lookup:
    """A lookup that reads ``gen(*args)`` to its end when it runs."""
    return lambda: list(gen(*args))
