"""Audit records: CADF events with reaper's own fields, built without I/O.

A record is a CADF event (DMTF DSP0262, as built by pycadf, the model
Keystone's own CADF notifications use) so SIEMs that already read OpenStack
audit data read reaper's too:

* ``initiator`` is reaper's service identity (who acted),
* ``target`` the resource or identity acted on,
* ``observer`` the reaper instance that wrote the record (``[DEFAULT] host``),
* ``action`` / ``outcome`` / ``reason`` what happened and why (the policy and
  rule that matched, or the error).

Everything CADF has no slot for lives under one extra top-level key,
``reaper``: the chain position (``seq``), tombstone, plan, trigger (Keystone
``message_id``, event type, initiator) and the resource's before-image, the
attributes it had when reaper decided. ``seq`` is assigned only when the
record is appended under the chain lock, so a :class:`RecordDraft` is
everything but its position.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pycadf import cadftaxonomy
from pycadf import event as cadf_event
from pycadf import reason as cadf_reason
from pycadf import resource as cadf_resource

from reaper import canonical, log, sealing
from reaper.audit.columns import RecordIndex, cadf_time
from reaper.model import IdentityRef, OutcomeStatus, Resource, ResourceRef, Trigger, utcnow

#: Version of the ``reaper`` section; bump when its meaning changes.
SCHEMA = "reaper-audit/1"


#: Namespace of the deterministic UUIDs given to actors that have only a name.
_ACTOR_NS = uuid.UUID("5a3b8f62-3c55-4e0b-9a7e-6f6c1d2e9b41")

#: Stands in for a target's id while pycadf validates the rest (see _resource).
_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


class AuditAction(str, enum.Enum):
    """CADF actions reaper uses (any CADF action string is accepted too)."""

    #: A Keystone notification arrived (or was rejected as malformed).
    RECEIVE = "receive"
    #: Reaper asked a service about a resource or identity (verify, discovery).
    READ = "read"
    LIST = "read/list"
    #: A policy decision, a plan, or a dry-run of a step.
    EVALUATE = "evaluate"
    DELETE = "delete"
    DETACH = "update/detach"
    DISABLE = "disable"
    UPDATE = "update"
    NOTIFY = "notify"


class AuditOutcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"
    UNKNOWN = "unknown"

    @classmethod
    def from_status(cls, status: OutcomeStatus) -> AuditOutcome:
        """The CADF outcome of a step's final status."""
        if status in (OutcomeStatus.FAILED, OutcomeStatus.BLOCKED):
            return cls.FAILURE
        if status in (OutcomeStatus.DEFERRED, OutcomeStatus.HELD, OutcomeStatus.KEPT):
            return cls.PENDING
        return cls.SUCCESS


#: CADF resource typeURIs of reaper's dotted types, where CADF has a better name.
_TYPE_URIS = {
    "identity.project": cadftaxonomy.SECURITY_PROJECT,
    "identity.user": cadftaxonomy.SECURITY_ACCOUNT_USER,
    "identity.domain": cadftaxonomy.SECURITY_DOMAIN,
    "compute.server": "compute/machine",
    "compute.keypair": cadftaxonomy.SECURITY_KEY,
    "block_storage.volume": "storage/volume",
    "image.image": "data/image",
    "object_store.container": "storage/container",
    "reaper.notification": "data/message",
}
#: The CADF root under which the other types of a service are named.
_SERVICE_ROOTS = {
    "compute": "compute",
    "block_storage": "storage/volume",
    "network": "network",
    "image": "data/image",
    "object_store": "storage/container",
    "identity": "data/security",
    "dns": "network/domain",
    "load_balancer": "network",
    "orchestration": "data/workload",
    "shared_file_system": "storage/share",
}


def type_uri(resource_type: str) -> str:
    """The CADF typeURI for a dotted reaper type (``network.port`` -> ``network/port``)."""
    if resource_type in _TYPE_URIS:
        return _TYPE_URIS[resource_type]
    service, _, kind = resource_type.partition(".")
    root = _SERVICE_ROOTS.get(service, f"data/{service}")
    return f"{root}/{kind}" if kind else root


def _resource(resource_id: str, resource_type: str) -> cadf_resource.Resource:
    """A pycadf resource with ``resource_id`` recorded verbatim.

    pycadf accepts any non-empty id but warns for each one that is not a
    UUID; keypair names and other free-form ids are legitimate targets, and
    a warning per record would drown the log (filtering warnings is process
    global and not thread-safe). So pycadf validates the type with a
    placeholder id, and the real one is set afterwards.
    """
    if not isinstance(resource_id, str) or not resource_id:
        raise ValueError("a CADF resource needs a non-empty id")
    res = cadf_resource.Resource(id=_PLACEHOLDER_ID, typeURI=resource_type)
    vars(res)["id"] = resource_id
    return res


@dataclass(frozen=True)
class Actor:
    """A CADF resource that acts or observes: reaper's identity, a reaper instance."""

    id: str
    name: str
    type_uri: str

    @classmethod
    def named(cls, name: str, type_uri: str, *, kind: str) -> Actor:
        """An actor known by name only, given a stable UUID derived from it."""
        return cls(str(uuid.uuid5(_ACTOR_NS, f"{kind}:{name}")), name, type_uri)

    @classmethod
    def service_user(cls, user_id: str | None = None, name: str | None = None) -> Actor:
        """Reaper's service identity in Keystone, the initiator of its actions."""
        name = name or "reaper"
        if user_id:
            return cls(user_id, name, cadftaxonomy.ACCOUNT_USER)
        return cls.named(name, cadftaxonomy.ACCOUNT_USER, kind="user")

    @classmethod
    def instance(cls, host: str) -> Actor:
        """One reaper controller or CLI host, the observer of what it records."""
        return cls.named(host, "service/oss", kind="host")

    @functools.cached_property
    def cadf(self) -> cadf_resource.Resource:
        """Built (and validated) once: an actor is the same on every record."""
        res = _resource(self.id, self.type_uri)
        res.name = self.name
        return res

    @functools.cached_property
    def cadf_dict(self) -> dict[str, Any]:
        return dict(vars(self.cadf))


@dataclass(frozen=True)
class AuditTarget:
    """What an action was about: a cloud resource, an identity, a notification."""

    #: Reaper's dotted type: ``compute.server``, ``identity.project``...
    type: str
    id: str
    name: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    domain_id: str | None = None

    @classmethod
    def for_resource(cls, resource: Resource | ResourceRef) -> AuditTarget:
        if isinstance(resource, ResourceRef):
            return cls(resource.type, resource.id)
        return cls(
            resource.type,
            resource.id,
            name=resource.name,
            project_id=resource.project_id,
            user_id=resource.user_id,
        )

    @classmethod
    def for_identity(
        cls, identity: IdentityRef, *, name: str | None = None, domain_id: str | None = None
    ) -> AuditTarget:
        kind = identity.kind.value
        return cls(
            f"identity.{kind}",
            identity.id,
            name=name,
            project_id=identity.id if kind == "project" else None,
            user_id=identity.id if kind == "user" else None,
            domain_id=identity.id if kind == "domain" else domain_id,
        )

    @classmethod
    def for_notification(cls, message_id: str | None) -> AuditTarget:
        return cls("reaper.notification", message_id or "unknown")

    @property
    def type_uri(self) -> str:
        return type_uri(self.type)

    def cadf(self) -> cadf_resource.Resource:
        res = _resource(self.id, self.type_uri)
        if self.name is not None:
            res.name = self.name
        # CADF resources are open: Keystone adds project_id/user_id the same way.
        for attr in ("project_id", "user_id", "domain_id"):
            value = getattr(self, attr)
            if value is not None:
                setattr(res, attr, str(value))
        return res


@dataclass(frozen=True)
class AuditReason:
    """Why: the policy and rule that matched, an error, or plain words."""

    text: str = ""
    kind: str = "reaper/reason"
    policy: str | None = None
    rule: str | None = None

    @classmethod
    def policy_match(cls, policy: str, rule: str | None, text: str = "") -> AuditReason:
        return cls(text=text, kind="reaper/policy", policy=policy, rule=rule)

    @classmethod
    def error(cls, error: BaseException | str) -> AuditReason:
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
        return cls(text=log.redact_text(text), kind="reaper/error")

    def cadf(self) -> cadf_reason.Reason:
        reason = cadf_reason.Reason(reasonType=self.kind, reasonCode=self.text)
        if self.policy is not None:
            reason.policyType = "reaper/policy"
            reason.policyId = self.policy if self.rule is None else f"{self.policy}:{self.rule}"
        return reason


@dataclass(frozen=True)
class RecordDraft:
    """A complete record but for its chain position, ready to be appended."""

    #: The CADF event, as JSON-able data.
    cadf: Mapping[str, Any]
    #: Reaper's fields, without ``seq``.
    reaper: Mapping[str, Any]
    index: RecordIndex = field(compare=False)

    def body(self, seq: int) -> str:
        """The canonical JSON text of this record at position ``seq``.

        ``cadf`` and ``reaper`` already went through ``canonical.jsonable``
        when the draft was built, so this is ``canonical.dumps`` without its
        second walk over the data, which cost more than the rest of a batched
        append (a unit test holds the two to the same bytes).
        """
        record = dict(self.cadf)
        record["reaper"] = {**self.reaper, "seq": seq}
        return _CANONICAL.encode(record)


#: ``canonical.dumps``'s encoder, for data that is already JSON-plain.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)

#: Anything :func:`reaper.log.redact` could mask contains one of these; the
#: rest (nearly every attribute) skips its costly regexes.
_SUSPECT = re.compile(
    r"pass|pswd|secret|token|key|auth|credential|signature|cookie|configfile|://|gAAAA",
    re.IGNORECASE,
)


def scrub(value: Any, key: str | None = None) -> Any:
    """``value`` with secrets masked exactly as the logs mask them, but fast.

    Keys in :data:`reaper.sealing.ANYWHERE` (``user_data``...) are sealed to
    their fingerprint instead, wherever they appear: no pattern sees them.

    Before-images and extras are exported to auditors, so no password or
    token may survive in them; redacting every string of every server's
    attributes would cost more than the append itself.
    """
    if key is not None and key in sealing.ANYWHERE:
        return sealing.seal_value(value)  # a secret by what it is, whatever it looks like
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    suspect_key = key is not None and _SUSPECT.search(key) is not None
    if suspect_key or (isinstance(value, str) and _SUSPECT.search(value)):
        return log.redact(value, key)
    return value


def _trigger(trigger: Trigger | None) -> dict[str, Any] | None:
    if trigger is None:
        return None
    return {
        "source": trigger.source.value,
        "event_type": trigger.event_type,
        "message_id": trigger.message_id,
        "initiator": scrub(canonical.jsonable(trigger.initiator)) if trigger.initiator else None,
        "received_at": canonical.jsonable(trigger.received_at),
    }


def _before(before: Resource | Mapping[str, Any] | None) -> Any:
    """The before-image: secrets sealed by type (``reaper.sealing``), then masked by name."""
    if before is None:
        return None
    if isinstance(before, Resource):
        before = sealing.seal_resource(before)
    return scrub(canonical.jsonable(before))


def build(
    *,
    action: AuditAction | str,
    outcome: AuditOutcome | str,
    target: AuditTarget,
    initiator: Actor,
    observer: Actor,
    reason: AuditReason | str | None = None,
    tombstone_id: str | None = None,
    plan_id: str | None = None,
    plan_hash: str | None = None,
    step_id: str | None = None,
    trigger: Trigger | None = None,
    before: Resource | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    event_time: dt.datetime | None = None,
    event_id: str | None = None,
) -> RecordDraft:
    """Validate and assemble one record; raises ``ValueError`` on a non-CADF value.

    Validation happens here, in the caller's thread and outside any lock or
    transaction, so a bad record never holds the chain.
    """
    action = action.value if isinstance(action, AuditAction) else action
    outcome = outcome.value if isinstance(outcome, AuditOutcome) else outcome
    if isinstance(reason, str):
        reason = AuditReason(text=reason)
    when = cadf_time(event_time or utcnow())
    event = cadf_event.Event(
        id=event_id or str(uuid.uuid4()),
        eventTime=when,
        action=action,
        outcome=outcome,
        initiator=initiator.cadf,
        target=target.cadf(),
        observer=observer.cadf,
    )
    if reason is not None:
        event.reason = reason.cadf()
    if not event.is_valid():
        raise ValueError(f"not a valid CADF event: action={action!r} outcome={outcome!r}")
    # pycadf validated; its ``as_dict`` (oslo's generic to_primitive) would
    # cost more than the rest of an append, and its types keep their fields
    # in ``__dict__``, which is all there is to convert.
    cadf: dict[str, Any] = dict(vars(event))
    cadf["initiator"] = initiator.cadf_dict
    cadf["observer"] = observer.cadf_dict
    cadf["target"] = dict(vars(cadf["target"]))
    if reason is not None:
        cadf["reason"] = dict(vars(cadf["reason"]))
    ours: dict[str, Any] = {
        "schema": SCHEMA,
        "target_type": target.type,
        "tombstone_id": tombstone_id,
        "plan": {"id": plan_id, "hash": plan_hash} if (plan_id or plan_hash) else None,
        "step_id": step_id,
        "trigger": _trigger(trigger),
        "before": _before(before),
        "extra": scrub(canonical.jsonable(extra)) if extra else None,
    }
    # Every part is JSON-plain already (strings from pycadf's validated
    # resources, before-image and extra through canonical.jsonable), so
    # sealing under the chain lock only encodes; a walk over the whole record
    # here would cost as much as everything else in build.
    ours = {k: v for k, v in ours.items() if v is not None}
    index = RecordIndex(
        recorded_at=when,
        action=action,
        outcome=outcome,
        target_type=target.type,
        target_id=target.id,
        tombstone_id=tombstone_id,
        plan_hash=plan_hash,
    )
    return RecordDraft(cadf=cadf, reaper=ours, index=index)
