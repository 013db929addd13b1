"""Identities and what Keystone says happened to them: the start of every tombstone.

:func:`trigger_name` is the one place a trigger's name is spelled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
