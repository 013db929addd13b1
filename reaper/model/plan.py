"""Steps and the plan that orders them: what reaper would do, serializable and hashed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reaper import canonical
from reaper.model.clock import parse_time, utcnow
from reaper.model.identity import IdentityKind, IdentityRef
from reaper.model.resources import Decision, Resource, ResourceRef


@dataclass(frozen=True)
class Step:
    """One action on one resource, and the steps that must finish first."""

    id: str
    action: str
    resource: ResourceRef
    params: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    policy: str | None = None
    reason: str = ""
    after: dt.timedelta | None = None

    @property
    def service(self) -> str:
        return self.resource.service

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        after = data.get("after")
        return cls(
            id=data["id"],
            action=data["action"],
            resource=ResourceRef(**data["resource"]),
            params=dict(data.get("params") or {}),
            depends_on=tuple(data.get("depends_on", ())),
            policy=data.get("policy"),
            reason=data.get("reason", ""),
            after=None if after is None else dt.timedelta(seconds=after),
        )


@dataclass(frozen=True)
class Plan:
    """Everything reaper would do for one identity, serializable and hashed.

    ``content_hash`` covers every field but itself; ``apply`` refuses a plan
    whose content no longer matches it, so what runs is what was shown.
    """

    identity: IdentityRef
    created_at: dt.datetime
    resources: tuple[Resource, ...] = ()
    decisions: tuple[Decision, ...] = ()
    steps: tuple[Step, ...] = ()
    #: Why the plan may be smaller than reality (a handler failed, a service is missing).
    incomplete: tuple[str, ...] = ()
    #: Why the plan must wait for an operator (blast-radius limits).
    held: tuple[str, ...] = ()
    policy_digest: str | None = None
    #: The verified condition the policies were evaluated for (identity.project.deleted...).
    trigger: str = ""

    def body(self) -> dict[str, Any]:
        return canonical.jsonable(self)

    @functools.cached_property
    def content_hash(self) -> str:
        # Computed once per plan object: every audit record of a run names the plan's
        # hash, and rehashing a 1,000-step plan for each of its 1,000 steps is quadratic.
        # The plan is frozen, and a plan read from a file is hashed afresh when loaded.
        return canonical.digest(self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "content_hash": self.content_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Rebuild a plan; raises :class:`PlanIntegrityError` if it was altered."""
        known = {f.name for f in dataclasses.fields(cls)}
        # ``signature`` signs the hash, so it cannot be part of what is hashed
        # (reaper.audit.plansig checks it).
        unknown = set(data) - known - {"content_hash", "signature"}
        if unknown:
            raise PlanIntegrityError(f"unknown plan fields: {', '.join(sorted(unknown))}")
        ident = data["identity"]
        plan = cls(
            identity=IdentityRef(IdentityKind(ident["kind"]), ident["id"]),
            created_at=parse_time(data["created_at"]) or utcnow(),
            resources=tuple(Resource.from_dict(r) for r in data.get("resources", ())),
            decisions=tuple(Decision.from_dict(d) for d in data.get("decisions", ())),
            steps=tuple(Step.from_dict(s) for s in data.get("steps", ())),
            incomplete=tuple(data.get("incomplete", ())),
            held=tuple(data.get("held", ())),
            policy_digest=data.get("policy_digest"),
            trigger=data.get("trigger", ""),
        )
        claimed = data.get("content_hash")
        if claimed != plan.content_hash:
            raise PlanIntegrityError(
                f"plan content does not match its hash (claimed {claimed}, "
                f"computed {plan.content_hash}): it was edited after it was shown"
            )
        return plan


class PlanIntegrityError(ValueError):
    """A plan's content does not match the hash it was shown with."""
