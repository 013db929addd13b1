"""Cloud resources, how they depend on each other, and what the policies decide about them.

Resource types are dotted ``service.kind`` names (``compute.server``,
``network.floating_ip``); the service part chooses the concurrency bucket the
executor uses and the inventory handler that found it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class ResourceRef:
    """Identifies a resource across services: its dotted type and its id."""

    type: str
    id: str

    @property
    def service(self) -> str:
        return self.type.split(".", 1)[0]

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True, order=True)
class Edge:
    """``relation`` of the owning resource to ``target``: port --device--> server."""

    relation: str
    target: ResourceRef


@dataclass(frozen=True)
class Resource:
    """A cloud object reaper found, with what it depends on.

    ``attributes`` is the service's own representation at discovery time: it
    is what policies filter on and the before-image the audit trail keeps.
    """

    type: str
    id: str
    name: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False)
    edges: tuple[Edge, ...] = ()

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.type, self.id)

    @property
    def service(self) -> str:
        return self.ref.service

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        return cls(
            type=data["type"],
            id=data["id"],
            name=data.get("name"),
            project_id=data.get("project_id"),
            user_id=data.get("user_id"),
            status=data.get("status"),
            attributes=dict(data.get("attributes") or {}),
            edges=tuple(
                Edge(e["relation"], ResourceRef(**e["target"])) for e in data.get("edges", ())
            ),
        )


class Verdict(str, enum.Enum):
    ACT = "act"
    SKIP = "skip"
    PROTECT = "protect"


@dataclass(frozen=True)
class ActionSpec:
    """An action a policy chose, with its parameters and its grace period."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Wait this long after the decision before running (forensic hold, grace).
    after: dt.timedelta | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionSpec:
        after = data.get("after")
        return cls(
            name=data["name"],
            params=dict(data.get("params") or {}),
            after=None if after is None else dt.timedelta(seconds=after),
        )


@dataclass(frozen=True)
class Decision:
    """What the policies say about one resource, and which rule said it."""

    resource: ResourceRef
    verdict: Verdict
    actions: tuple[ActionSpec, ...] = ()
    policy: str | None = None
    rule: str | None = None
    reason: str = ""

    def removes(self, removal_actions: frozenset[str]) -> bool:
        """Whether this decision removes its resource (one of its actions is a removal)."""
        return self.verdict is Verdict.ACT and any(a.name in removal_actions for a in self.actions)

    def demoted(self, verdict: Verdict, reason: str, cause: Decision) -> Decision:
        """No longer acted on, because of ``cause`` (whose policy a protection inherits)."""
        protect = verdict is Verdict.PROTECT
        return dataclasses.replace(
            self,
            verdict=verdict,
            actions=(),
            policy=cause.policy if protect else self.policy,
            rule=cause.rule if protect else self.rule,
            reason=reason,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            resource=ResourceRef(**data["resource"]),
            verdict=Verdict(data["verdict"]),
            actions=tuple(ActionSpec.from_dict(a) for a in data["actions"]),
            policy=data.get("policy"),
            rule=data.get("rule"),
            reason=data.get("reason", ""),
        )
