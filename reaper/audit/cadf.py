"""Who and what a record names, in CADF's terms: actors, targets, reasons and typeURIs.

reaper's dotted types map onto CADF typeURIs (:func:`type_uri`); its service
identity and its instances are :class:`Actor` (initiator and observer); what
an action was about is an :class:`AuditTarget`, and why an
:class:`AuditReason`; nothing here does I/O.

Records are built on the intake's hot path (one per notification), where
building and validating a pycadf object per record cost half of persisting
a batch. So targets, reasons and events are plain dicts checked by pycadf's
own taxonomy functions (cached per value) and by the same rules pycadf's
validators apply; actors, the same on every record, are still built once as
pycadf objects. Invariant: each dict equals ``vars()`` of the pycadf object
pycadf would build from the same values (``tests/unit/audit/test_cadf.py``
compares them), and whatever pycadf refuses raises ``ValueError`` here.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from pycadf import cadftaxonomy
from pycadf import resource as cadf_resource

from reaper import log
from reaper.model import IdentityRef, Resource, ResourceRef

#: Namespace of the deterministic UUIDs given to actors that have only a name.
_ACTOR_NS = uuid.UUID("5a3b8f62-3c55-4e0b-9a7e-6f6c1d2e9b41")

#: Stands in for a target's id while pycadf validates the rest (see _resource).
_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"

#: pycadf's taxonomy checks walk their whole taxonomy by prefix: once per value.
valid_action = functools.lru_cache(maxsize=256)(cadftaxonomy.is_valid_action)
valid_outcome = functools.lru_cache(maxsize=16)(cadftaxonomy.is_valid_outcome)
_valid_resource_uri = functools.lru_cache(maxsize=1024)(cadftaxonomy.is_valid_resource)


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

    def cadf_dict(self) -> dict[str, Any]:
        """The CADF resource, as pycadf's ``Resource`` would hold it (see the module)."""
        uri = self.type_uri
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("a CADF resource needs a non-empty id")
        if not _valid_resource_uri(uri):
            raise ValueError(f"typeURI {uri!r} is not in CADF's resource taxonomy")
        res: dict[str, Any] = {"typeURI": uri, "id": self.id}
        if self.name is not None:
            res["name"] = _text("name", self.name)
        # CADF resources are open: Keystone adds project_id/user_id the same way.
        for attr in ("project_id", "user_id", "domain_id"):
            value = getattr(self, attr)
            if value is not None:
                res[attr] = str(value)
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

    def cadf_dict(self) -> dict[str, Any]:
        """The CADF reason, as pycadf's ``Reason`` would hold it (see the module)."""
        reason = {
            "reasonType": _text("reasonType", self.kind),
            "reasonCode": _text("reasonCode", self.text),
        }
        if self.policy is not None:
            policy = _text("policyId", self.policy)
            reason["policyType"] = "reaper/policy"
            reason["policyId"] = policy if self.rule is None else f"{policy}:{self.rule}"
        return reason


def _text(field: str, value: Any) -> str:
    """``value`` if it is a string, as pycadf's validators require."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    return value
