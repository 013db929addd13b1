"""What a policy evaluation knows besides the resources: the trigger and the rules of the house.

Trigger names are ``identity.<kind>.<deleted|disabled>``: what happened to
which kind of Keystone identity, once ``verify`` has confirmed it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from reaper.model import IdentityKind, IdentityRef, utcnow

#: Every trigger a policy may name, in a stable order.
TRIGGERS: Final = tuple(
    f"identity.{kind.value}.{what}" for kind in IdentityKind for what in ("deleted", "disabled")
)


def trigger_name(kind: IdentityKind, *, disabled: bool = False) -> str:
    """The trigger for a verified deletion (or, with ``disabled``, a disable) of ``kind``."""
    return f"identity.{kind.value}.{'disabled' if disabled else 'deleted'}"


@dataclass(frozen=True)
class EvaluationContext:
    """Why the resources are being judged, and what is protected whatever policies say."""

    trigger: str
    identity: IdentityRef
    now: dt.datetime = field(default_factory=utcnow)
    #: Resources of these projects are never touched (``[DEFAULT] protected_project_ids``).
    protected_project_ids: frozenset[str] = frozenset()
    #: Identities of these domains are never cleaned up (``[DEFAULT] protected_domain_ids``).
    protected_domain_ids: frozenset[str] = frozenset()
    #: The domain of the deleted identity, when Keystone told us before it went.
    domain_id: str | None = None

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {self.trigger!r}; expected one of {TRIGGERS}")
        now = self.now if self.now.tzinfo else self.now.replace(tzinfo=dt.timezone.utc)
        object.__setattr__(self, "now", now)
        object.__setattr__(self, "protected_project_ids", frozenset(self.protected_project_ids))
        object.__setattr__(self, "protected_domain_ids", frozenset(self.protected_domain_ids))

    @classmethod
    def from_conf(
        cls,
        conf: Any,
        trigger: str,
        identity: IdentityRef,
        *,
        now: dt.datetime | None = None,
        domain_id: str | None = None,
    ) -> EvaluationContext:
        """A context carrying the protected projects and domains of reaper's configuration."""
        return cls(
            trigger=trigger,
            identity=identity,
            now=now or utcnow(),
            protected_project_ids=_ids(conf.protected_project_ids),
            protected_domain_ids=_ids(conf.protected_domain_ids),
            domain_id=domain_id,
        )

    @property
    def domain(self) -> str | None:
        """The domain concerned: the deleted domain itself, or the identity's domain."""
        if self.identity.kind is IdentityKind.DOMAIN:
            return self.identity.id
        return self.domain_id


def _ids(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for v in values or () if v and v.strip())
