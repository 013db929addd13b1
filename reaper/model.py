"""The domain: plain, immutable values that the pipeline stages pass along.

Every stage (events -> verify -> inventory -> policy -> planner -> executor ->
audit) talks to the next through these types only, so each stage can be
tested with values built by hand, and nothing here does I/O.

Resource types are dotted ``service.kind`` names (``compute.server``,
``network.floating_ip``); the service part chooses the concurrency bucket the
executor uses and the inventory handler that found it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reaper import canonical


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _parse_time(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class IdentityKind(str, enum.Enum):
    PROJECT = "project"
    USER = "user"
    DOMAIN = "domain"


def trigger_name(kind: IdentityKind, *, disabled: bool = False) -> str:
    """What Keystone (as verified) did to which kind of identity: ``identity.project.deleted``.

    The one place trigger names are spelled: policies name them, plans carry
    them, and the sweep and a deleted domain's coverage record them as the
    event type of the triggers they open.
    """
    return f"identity.{kind.value}.{'disabled' if disabled else 'deleted'}"


#: Every trigger a policy may name, in a stable order.
TRIGGERS: tuple[str, ...] = tuple(
    trigger_name(kind, disabled=disabled) for kind in IdentityKind for disabled in (False, True)
)


class IdentityAction(str, enum.Enum):
    DELETED = "deleted"
    #: Keystone says only "updated": whether it was a disable, Keystone must tell.
    UPDATED = "updated"


@dataclass(frozen=True, order=True)
class IdentityRef:
    kind: IdentityKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True)
class IdentityEvent:
    """One Keystone notification about a project, user or domain, parsed."""

    kind: IdentityKind
    identity_id: str
    action: IdentityAction
    event_type: str
    message_id: str | None = None
    timestamp: str | None = None
    publisher_id: str | None = None
    #: ``basic`` or ``cadf``: Keystone's ``notification_format``.
    format: str = "basic"
    #: Who asked Keystone for the change, when the notification says (CADF only).
    initiator: Mapping[str, Any] | None = None
    #: The notification as received, for the audit trail.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def identity(self) -> IdentityRef:
        return IdentityRef(self.kind, self.identity_id)


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
            created_at=_parse_time(data["created_at"]) or utcnow(),
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


#: How the reason of a step blocked by its retry budget starts (not by a dependency).
BUDGET_SPENT = "retry budget spent"


class OutcomeStatus(str, enum.Enum):
    DONE = "done"
    ALREADY_GONE = "already_gone"
    SKIPPED = "skipped"
    FAILED = "failed"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    HELD = "held"
    #: Not run: a project that still exists uses the resource (found when the step was
    #: about to run, or a dependency was kept so). Neither done nor failed: the
    #: tombstone waits (``TombstoneState.WAITING``) and the sweep comes back for it.
    KEPT = "kept"

    @property
    def successful(self) -> bool:
        return self in (OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE)


@dataclass(frozen=True)
class Outcome:
    """The final word on one step."""

    step_id: str
    status: OutcomeStatus
    reason: str = ""
    attempts: int = 0
    #: One line per retried failure, for the audit trail.
    retries: tuple[str, ...] = ()
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    #: For a step kept because a live project uses its resource: the uses found when it
    #: ran, ``{project_id, type, id, detail, kind}`` each (``reaper_used_by``'s shape).
    #: In the audit record; the stored outcome keeps the reason that says them.
    used_by: tuple[Mapping[str, str], ...] = ()


class TombstoneState(str, enum.Enum):
    """Where a tombstone is on the road (``reaper.cleanup.worker`` draws the machine).

    ``WAITING``: every step that could run ran, but something was kept because a
    live project uses it (``reaper.cleanup.waiting``); neither complete (something
    is left) nor failed. No worker claims it: the sweep re-checks its kept
    resources and sends it round again once a live project stops using one.

    ``VERIFIED`` is never entered: verification and planning happen in one
    claim, straight from ``RECEIVED``. It stays so that a row an older reaper
    left in it still loads; such a row is claimable and worked on as if it
    had just been received.
    """

    RECEIVED = "received"
    VERIFIED = "verified"
    REFUSED = "refused"
    PLANNED = "planned"
    EXECUTING = "executing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    HELD = "held"
    DEFERRED = "deferred"
    WAITING = "waiting"

    @property
    def final(self) -> bool:
        return self in (TombstoneState.REFUSED, TombstoneState.COMPLETE)


class TriggerSource(str, enum.Enum):
    NOTIFICATION = "notification"
    SWEEP = "sweep"
    CLI = "cli"
    REPLAY = "replay"


@dataclass(frozen=True)
class Trigger:
    """Why a tombstone exists: which notification (or sweep, or operator) opened it."""

    source: TriggerSource
    event_type: str | None = None
    message_id: str | None = None
    initiator: Mapping[str, Any] | None = None
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class Tombstone:
    """The persistent record of one identity's cleanup: one per (kind, id)."""

    id: str
    identity: IdentityRef
    state: TombstoneState
    triggers: tuple[Trigger, ...] = ()
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    plan_hash: str | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    reason: str = ""
    #: The controller holding the tombstone's lease, and since when (``None`` when free).
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None
