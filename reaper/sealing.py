"""Secret attributes, sealed by type before reaper keeps any copy of them.

A resource's attributes become its entry in a plan (the file ``reaper plan
-o`` writes and the row the store keeps) and its before-image in the audit
trail, which auditors export. Some attributes are secrets by what they are,
whatever they are called: a server's ``user_data`` is base64 cloud-init that
often carries passwords, ``admin_password`` (Nova's ``adminPass``) is one,
``personality`` files are what a config drive carries, a keypair may carry
its ``private_key``, a Barbican secret its ``payload``, an application
credential its ``secret``. The key-name patterns of :func:`reaper.log.redact`
cannot see ``user_data``, so each resource type declares its secret
attributes here (:data:`SECRET_FIELDS`), and a resource is sealed by its
type where it is collected (``reaper.inventory.base.Collector``) and again
where a before-image is built (``reaper.audit.record``).

Sealing does not depend on a type's name being the one assumed here. Some
types of :data:`SECRET_FIELDS` are named before any handler produces them
(:data:`NOT_INVENTORIED`: Barbican's, which reaper cannot list, see
doc/policies.md, and Keystone's), and a handler added later may name its
type differently (``barbican.secret``, ``key_manager.secret_v1``). So every
attribute any type declares is also sealed under every type
(:data:`ANYWHERE`); the per-type table says why each is there, and a unit
test keeps its names to the types the registered handlers declare or that
:data:`NOT_INVENTORIED` lists.

A sealed value is ``sha256:`` and the first 16 hex digits of the SHA-256 of
its bytes: the secret is gone, but evidence still matches (whoever holds the
cloud-init a server was booted with can hash it and compare). Nothing here
does I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from reaper import canonical
from reaper.model import Resource

#: What a sealed value starts with; a value that already does is left alone.
PREFIX = "sha256:"
#: Hex digits of the SHA-256 kept: enough to match evidence, too few to matter.
DIGITS = 16

#: Per resource type, the attributes that are secrets whatever their value looks like.
SECRET_FIELDS: Mapping[str, frozenset[str]] = {
    "compute.server": frozenset(
        {
            "user_data",
            "OS-EXT-SRV-ATTR:user_data",
            "admin_password",
            "adminPass",
            # Files injected at boot: the contents of the config drive.
            "personality",
        }
    ),
    "compute.keypair": frozenset({"private_key"}),
    "key_manager.secret": frozenset({"payload"}),
    "key_manager.container": frozenset({"payload"}),
    "identity.application_credential": frozenset({"secret"}),
    "identity.credential": frozenset({"blob"}),
    "identity.user": frozenset({"password"}),
}

#: Types of :data:`SECRET_FIELDS` that no inventory handler declares: Barbican's
#: (its listings never show another project's secrets, so reaper has no handler for
#: them) and Keystone's (identities are verified, never inventoried). Their names
#: follow openstacksdk's service names; nothing relies on them (see ANYWHERE).
NOT_INVENTORIED: frozenset[str] = frozenset(
    {
        "key_manager.secret",
        "key_manager.container",
        "identity.application_credential",
        "identity.credential",
        "identity.user",
    }
)

#: Sealed wherever they appear, whatever the type: a before-image an action read
#: itself, a type that declares nothing (yet), or one named otherwise than above,
#: still never keeps one of these. Every attribute any type declares is here.
ANYWHERE: frozenset[str] = frozenset().union(*SECRET_FIELDS.values())


def fingerprint(value: Any) -> str:
    """``sha256:<16 hex>`` of ``value``: its UTF-8 bytes for a string, else canonical JSON."""
    data = value.encode("utf-8") if isinstance(value, str) else canonical.dumps(value)
    return PREFIX + hashlib.sha256(data).hexdigest()[:DIGITS]


def seal_value(value: Any) -> Any:
    """``value``'s fingerprint; an empty value stays as it is (nothing to hide)."""
    if value in (None, "", b"", [], {}) or value is False:
        return value  # nothing to hide, and "no user_data" stays visible
    if isinstance(value, str) and value.startswith(PREFIX):
        return value
    return fingerprint(value)


def secret_fields(resource_type: str) -> frozenset[str]:
    """The attributes of ``resource_type`` that never leave reaper in clear."""
    return SECRET_FIELDS.get(resource_type, frozenset()) | ANYWHERE


def seal(resource_type: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` with every secret attribute of ``resource_type`` replaced by its hash."""
    names = secret_fields(resource_type)
    return {k: seal_value(v) if k in names else v for k, v in attributes.items()}


def seal_resource(resource: Resource) -> Resource:
    """``resource`` with its type's secret attributes sealed (the same object if none were)."""
    names = secret_fields(resource.type)
    if names.isdisjoint(resource.attributes):
        return resource
    return dataclasses.replace(resource, attributes=seal(resource.type, resource.attributes))
