"""Keystone identity notifications, turned into :class:`IdentityEvent` values.

Keystone publishes ``identity.<type>.<operation>`` notifications in one of two
shapes, chosen by its ``[DEFAULT] notification_format``:

``basic``
    ``{"resource_info": "<id>", "request_id": "req-..."}``: the id and nothing
    about who asked.
``cadf``
    A CADF event: ``resource_info`` and ``target.id`` carry the id,
    ``initiator`` says who asked (absent when Keystone deletes a domain's
    contents itself), ``action`` is ``deleted.project`` and so on.

Only deletions and updates of projects, users and domains matter to reaper.
An update may be a disable; the payload does not say, so the pipeline asks
Keystone (see ``verify.py``) and never trusts the notification for that.

The identity id must be in the format Keystone gives ids of its kind
(``reaper/ids.py``, ``[identity]`` options): Keystone answers 404 for ids it
never made as well, and a 404 proves "gone" only for an id that existed.
What :func:`parse` accepts is a :class:`Rules` value, read once from the
configuration.

:func:`parse` is pure and raises only :class:`Rejected` subclasses, each with
a short machine-readable ``code``: the listener audits them and acknowledges
the message, so a malformed or hostile message can neither kill the listener
nor be redelivered forever. :func:`classify` wraps :func:`parse` for callers
that want a value either way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reaper.events.payload import oversize
from reaper.ids import IdFormats
from reaper.model import IdentityAction, IdentityEvent, IdentityKind, IdentityRef

#: Event types reaper subscribes to; the listener filters on this expression.
EVENT_TYPE_PATTERN = r"^identity\.(project|user|domain)\.(deleted|updated)$"
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
#: Creations are not acted on: they fill the directory of identities seen alive.
CREATED_PATTERN = r"^identity\.(project|user|domain)\.created$"
_CREATED = re.compile(CREATED_PATTERN)
CADF_TYPE_URI = "http://schemas.dmtf.org/cloud/audit/1.0/event"
DEFAULT_MAX_PAYLOAD_BYTES = 65536
#: Longest value reaper stores of each field it keeps from a notification.
#: ``message_id`` goes into ``tombstone_triggers.message_id`` (String(255));
#: the others into audit records. A unit test keeps them within the schema.
FIELD_LIMITS = {"message_id": 255, "publisher_id": 255, "timestamp": 64, "initiator": 255}
#: CADF initiator fields worth keeping in the audit trail (no credentials live here).
_INITIATOR_FIELDS = ("id", "name", "typeURI", "user_id", "username", "project_id", "domain_id")


class Rejected(ValueError):
    """A notification reaper will not act on, and why.

    ``reason`` and ``event_type`` are safe to store: text that any database
    and JSON encoder accept (lone surrogates escaped), of bounded length.
    ``message_ref`` names the message in the audit trail: its id when that
    is a valid one, else a truncated hash of it (see :func:`message_ref`).
    """

    code = "rejected"

    def __init__(self, reason: str, *, event_type: str | None = None) -> None:
        reason = _storable(reason, 500)
        super().__init__(reason)
        self.reason = reason
        self.event_type = None if event_type is None else _storable(event_type, 100)
        self.message_ref: str | None = None


class UnknownEventType(Rejected):
    code = "unknown_event_type"


class MalformedNotification(Rejected):
    code = "malformed"


class PayloadTooLarge(Rejected):
    code = "too_large"


class BadField(MalformedNotification):
    """A field reaper would store is of the wrong type, too long or not printable.

    Checked here, not left to the database: a value its column refuses
    fails the whole batch's transaction, and the batch is requeued and
    refused again, forever (issue 13, item 13).
    """

    code = "bad_field"


class NotAKeystoneId(MalformedNotification):
    """The identity id is not one Keystone could have made (``reaper/ids.py``)."""

    code = "bad_id"


@dataclass(frozen=True)
class Rules:
    """What :func:`parse` accepts; read once from the configuration and passed along."""

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    ids: IdFormats = field(default_factory=IdFormats)

    @classmethod
    def from_conf(cls, conf: Any) -> Rules:
        """``[listener] max_payload_bytes`` and the ``[identity]`` id formats.

        Raises :class:`reaper.ids.InvalidIdPattern` for a pattern that is not a
        regular expression.
        """
        return cls(max_payload_bytes=conf.listener.max_payload_bytes, ids=IdFormats.from_conf(conf))


DEFAULT_RULES = Rules()


def parse(
    ctxt: Any,
    publisher_id: Any,
    event_type: Any,
    payload: Any,
    metadata: Any,
    *,
    rules: Rules = DEFAULT_RULES,
) -> IdentityEvent:
    """The :class:`IdentityEvent` a Keystone notification describes.

    Raises :class:`Rejected` (and nothing else) for anything that is not a
    well-formed identity deletion or update.
    """
    try:
        return _parse(ctxt, publisher_id, event_type, payload, metadata, rules)
    except Rejected as rejected:
        meta = metadata if isinstance(metadata, Mapping) else {}
        rejected.message_ref = message_ref(meta.get("message_id"))
        raise


def _parse(
    ctxt: Any, publisher_id: Any, event_type: Any, payload: Any, metadata: Any, rules: Rules
) -> IdentityEvent:
    if not isinstance(event_type, str):
        raise MalformedNotification(f"event_type is {type(event_type).__name__}, not a string")
    match = _EVENT_TYPE.match(event_type)
    if not match:
        raise UnknownEventType(
            f"not an identity deletion or update: {event_type[:100]!r}", event_type=event_type[:100]
        )
    size = oversize(payload, rules.max_payload_bytes)
    if size is not None:
        raise PayloadTooLarge(
            f"payload of {size} bytes exceeds {rules.max_payload_bytes}", event_type=event_type
        )
    if not _is_mapping(payload):
        raise MalformedNotification(
            f"payload is {type(payload).__name__}, not an object", event_type=event_type
        )
    kind = _KINDS[match.group(1)]
    action = _ACTIONS[match.group(2)]
    cadf = payload.get("typeURI") == CADF_TYPE_URI
    identity_id = _identity_id(payload, kind, rules.ids, cadf=cadf, event_type=event_type)
    meta = metadata if _is_mapping(metadata) else {}
    return IdentityEvent(
        kind=kind,
        identity_id=identity_id,
        action=action,
        event_type=event_type,
        message_id=_field("message_id", meta.get("message_id"), event_type),
        timestamp=_field("timestamp", meta.get("timestamp"), event_type),
        publisher_id=_field("publisher_id", publisher_id, event_type),
        format="cadf" if cadf else "basic",
        initiator=_initiator(payload, event_type) if cadf else None,
        raw={
            "ctxt": ctxt if _is_mapping(ctxt) else {},
            "publisher_id": publisher_id,
            "event_type": event_type,
            "payload": payload,
            "metadata": meta,
        },
    )


#: The enum members by the names the event type pattern captures (an enum call costs more).
_KINDS = {kind.value: kind for kind in IdentityKind}
_ACTIONS = {action.value: action for action in IdentityAction}


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the usual ``dict``."""
    return type(value) is dict or isinstance(value, Mapping)


def seen_alive(
    event_type: Any, payload: Any, *, rules: Rules = DEFAULT_RULES
) -> IdentityRef | None:
    """The identity an ``identity.<kind>.created`` notification names, if it is one.

    Only for the directory of identities seen alive (``reaper.store.directory``):
    nothing is ever acted on because of a creation, so a malformed one is simply
    not recorded (None). The id must still be in Keystone's format, so a forged
    ``*`` never makes a wildcard "known". Keystone's creations carry only the id
    (``resource_info``, and ``target.id`` in CADF), never the domain.
    """
    if not isinstance(event_type, str) or not isinstance(payload, Mapping):
        return None
    match = _CREATED.match(event_type)
    if not match or oversize(payload, rules.max_payload_bytes) is not None:
        return None
    kind = IdentityKind(match.group(1))
    cadf = payload.get("typeURI") == CADF_TYPE_URI
    try:
        identity_id = _identity_id(payload, kind, rules.ids, cadf=cadf, event_type=event_type)
    except Rejected:
        return None
    return IdentityRef(kind, identity_id)


def classify(*args: Any, **kwargs: Any) -> IdentityEvent | Rejected:
    """:func:`parse`, returning the rejection instead of raising it.

    Also turns any unexpected error (a bug here) into a rejection: a listener
    must survive whatever arrives on the bus.
    """
    try:
        return parse(*args, **kwargs)
    except Rejected as rejected:
        return rejected
    except Exception as exc:  # defensive: a parser bug must not kill the listener
        return MalformedNotification(f"unparseable notification: {type(exc).__name__}: {exc}")


def message_ref(message_id: Any) -> str | None:
    """How the audit trail names a message: its id if storable, else a truncated hash.

    A rejected notification's own id may be what is wrong with it (too
    long, binary, not a string); its record must still be writable and
    still let an investigator match it to the message on the wire.
    """
    if message_id is None or message_id == "":
        return None
    if isinstance(message_id, str) and _storable_field(message_id, FIELD_LIMITS["message_id"]):
        return message_id
    return fingerprint(message_id)


def fingerprint(value: Any) -> str:
    """``sha256:`` and the first 16 hex digits of the hash of ``value`` (text as UTF-8)."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    else:
        data = repr(value).encode("utf-8", "backslashreplace")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def from_file_record(record: Mapping[str, Any], **kwargs: Any) -> IdentityEvent:
    """Parse a saved notification (the shape ``reaper replay`` and the captures use)."""
    if not isinstance(record, Mapping):
        raise MalformedNotification("a saved notification must be a JSON object")
    return parse(
        record.get("ctxt", {}),
        record.get("publisher_id"),
        record.get("event_type"),
        record.get("payload"),
        record.get("metadata", {}),
        **kwargs,
    )


def _identity_id(
    payload: Mapping[str, Any],
    kind: IdentityKind,
    formats: IdFormats,
    *,
    cadf: bool,
    event_type: str,
) -> str:
    resource_info = payload.get("resource_info")
    target = payload.get("target")
    target_id = target.get("id") if _is_mapping(target) else None
    if cadf and target_id is not None and resource_info is not None and target_id != resource_info:
        # Keystone always sets both to the same id; disagreement means tampering.
        raise MalformedNotification(
            "CADF target.id and resource_info disagree", event_type=event_type
        )
    identity_id = resource_info if resource_info is not None else target_id
    if identity_id is None:
        raise MalformedNotification(
            "payload names no identity (resource_info)", event_type=event_type
        )
    problem = formats.problem(kind, identity_id)
    if problem is not None:
        raise NotAKeystoneId(problem, event_type=event_type)
    return identity_id


def _initiator(payload: Mapping[str, Any], event_type: str) -> dict[str, Any] | None:
    initiator = payload.get("initiator")
    if not isinstance(initiator, Mapping):
        return None
    kept = {k: initiator[k] for k in _INITIATOR_FIELDS if isinstance(initiator.get(k), str)}
    host = initiator.get("host")
    if isinstance(host, Mapping) and isinstance(host.get("address"), str):
        kept["address"] = host["address"]
    # An empty field is an absent one: nothing empty is stored (it is not "storable").
    kept = {k: v for k, v in kept.items() if v}
    for name, value in kept.items():
        _field("initiator", value, event_type, shown=f"initiator.{name}")
    return kept or None


def _field(name: str, value: Any, event_type: str, *, shown: str | None = None) -> str | None:
    """A field reaper stores, checked against :data:`FIELD_LIMITS`; absent or empty is None."""
    if value is None or value == "":
        return None
    label = shown or name
    if not isinstance(value, str):
        raise BadField(f"{label} is {type(value).__name__}, not a string", event_type=event_type)
    limit = FIELD_LIMITS[name]
    if len(value) > limit:
        raise BadField(
            f"{label} of {len(value)} characters is longer than {limit} ({fingerprint(value)})",
            event_type=event_type,
        )
    if not _storable_field(value, limit):
        raise BadField(
            f"{label} holds characters that are not printable ({fingerprint(value)})",
            event_type=event_type,
        )
    return value


def _storable_field(value: str, limit: int) -> bool:
    """Printable (no NUL, control or lone surrogate characters) and at most ``limit`` long."""
    return 0 < len(value) <= limit and value.isprintable()


def _storable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` and with lone surrogates escaped: JSON and databases take it."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")[:limit]
