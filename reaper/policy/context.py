"""What a policy evaluation knows besides the resources: the trigger and the rules of the house.

Trigger names are ``identity.<kind>.<deleted|disabled>``: what happened to
which kind of Keystone identity, once verified with Keystone. They are
spelled in one place, :func:`reaper.model.trigger_name`, and re-exported here.
The context is made from the configuration by the road's
:class:`reaper.cleanup.settings.Settings`, read once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from reaper.model import TRIGGERS, IdentityKind, IdentityRef, trigger_name, utcnow

__all__ = ["TRIGGERS", "EvaluationContext", "trigger_name"]


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
    #: Reaper's own project and the cloud's admin project: always protected, whatever
    #: ``protected_project_ids`` says (an empty list protects them too).
    house_project_ids: frozenset[str] = frozenset()
    #: The domain of the deleted identity, when Keystone told us before it went.
    domain_id: str | None = None

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {self.trigger!r}; expected one of {TRIGGERS}")
        now = self.now if self.now.tzinfo else self.now.replace(tzinfo=dt.timezone.utc)
        object.__setattr__(self, "now", now)
        object.__setattr__(self, "protected_project_ids", frozenset(self.protected_project_ids))
        object.__setattr__(self, "protected_domain_ids", frozenset(self.protected_domain_ids))
        object.__setattr__(self, "house_project_ids", frozenset(self.house_project_ids))

    @property
    def domain(self) -> str | None:
        """The domain concerned: the deleted domain itself, or the identity's domain."""
        if self.identity.kind is IdentityKind.DOMAIN:
            return self.identity.id
        return self.domain_id
