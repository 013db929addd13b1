"""Identity ids: what Keystone's look like, and the floor every id must clear.

A 404 from Keystone proves "gone" only for an id that once existed. Keystone
answers 404 just as readily for ``%``, ``*`` or a live project's id in upper
case, and each of those, used as an owner filter, reaches further than one
deleted identity: ``*`` is Neutron's RBAC wildcard ("shared with everyone"),
a MySQL-backed service's case-insensitive collation matches the upper-cased
id to the live project. So an id is checked twice, before anything is asked
of a cloud:

* the **floor** (:data:`FLOOR`, not configurable): 1 to 64 characters (the
  width of Keystone's id columns), URL-safe, starting with a letter, a digit
  or ``_``, and never a wildcard (``%``, ``*``). Whatever a cloud's format,
  an id below the floor is refused; :func:`unsafe_filter_value` is the
  inventory's last guard built on it;
* the **format** of its kind (:class:`IdFormats`, ``[identity]`` options):
  by default what Keystone itself generates. Projects and domains get
  ``uuid4().hex``, 32 lower-case hex digits, and the default domain is
  called ``default``. Users get ``uuid4().hex`` when they live in Keystone's
  SQL backend, and 64 lower-case hex digits (the SHA-256 of Keystone's id
  mapping, ``[identity_mapping] generator = sha256``) when they are
  federated (shadow users) or come from LDAP behind a domain-specific
  backend. LDAP users of the default domain keep their LDAP attribute as id
  (``[identity_mapping] backward_compatible_ids = true``, Keystone's
  default): such clouds widen ``[identity] user_id_pattern`` (see
  doc/install.md).

Pure: patterns in, verdicts out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reaper.model import IdentityKind

#: The widest id any cloud may use: Keystone's id columns are String(64), and
#: only characters that need no escaping in a URL, with no wildcard among them.
FLOOR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+=:,~-]{0,63}")
#: Characters that a listing API may read as "any": never part of a filter value.
WILDCARDS = frozenset("%*")

HEX32 = "[0-9a-f]{32}"
HEX64 = "[0-9a-f]{64}"
DEFAULT_PATTERNS = {
    IdentityKind.PROJECT: HEX32,
    IdentityKind.USER: f"{HEX32}|{HEX64}",
    IdentityKind.DOMAIN: f"{HEX32}|default",
}


class InvalidIdPattern(ValueError):
    """An ``[identity]`` pattern that is not a regular expression."""


def option_name(kind: IdentityKind) -> str:
    """The ``[identity]`` option that holds ``kind``'s pattern."""
    return f"{kind.value}_id_pattern"


def _compile(kind: IdentityKind, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidIdPattern(
            f"[identity] {option_name(kind)} = {pattern!r} is not a regular expression ({exc}); "
            "fix it in reaper.conf"
        ) from exc


@dataclass(frozen=True)
class IdFormats:
    """The id format of each identity kind; an id must match its kind's in full."""

    project: re.Pattern[str] = re.compile(DEFAULT_PATTERNS[IdentityKind.PROJECT])
    user: re.Pattern[str] = re.compile(DEFAULT_PATTERNS[IdentityKind.USER])
    domain: re.Pattern[str] = re.compile(DEFAULT_PATTERNS[IdentityKind.DOMAIN])

    @classmethod
    def from_patterns(cls, patterns: dict[IdentityKind, str]) -> IdFormats:
        """Formats from regular expressions; raises :class:`InvalidIdPattern`."""
        chosen = {**DEFAULT_PATTERNS, **patterns}
        return cls(**{kind.value: _compile(kind, chosen[kind]) for kind in IdentityKind})

    @classmethod
    def from_conf(cls, conf: Any) -> IdFormats:
        """The ``[identity]`` options; raises :class:`InvalidIdPattern`."""
        group = conf.identity
        return cls.from_patterns({kind: group[option_name(kind)] for kind in IdentityKind})

    def pattern(self, kind: IdentityKind) -> re.Pattern[str]:
        pattern: re.Pattern[str] = getattr(self, kind.value)
        return pattern

    def problem(self, kind: IdentityKind, value: object) -> str | None:
        """Why ``value`` is not a ``kind`` id Keystone could have made; ``None`` if it is."""
        if not isinstance(value, str):
            return f"a {kind.value} id must be a string, not {type(value).__name__}"
        if not FLOOR.fullmatch(value):
            return (
                f"{_shown(value)} is not a {kind.value} id: ids are 1 to 64 URL-safe characters "
                "and never contain a wildcard"
            )
        pattern = self.pattern(kind)
        if not pattern.fullmatch(value):
            return (
                f"{_shown(value)} is not in the format of Keystone's {kind.value} ids "
                f"([identity] {option_name(kind)} = {pattern.pattern})"
            )
        return None


def unsafe_filter_value(value: object) -> str | None:
    """Why ``value`` must never be an owner filter of a listing; ``None`` if it may be.

    Independent of any configuration: even an id an operator typed, or one
    a pattern was widened to accept, is not used to list when it is below
    the floor (a wildcard, a space, a path separator, too long).
    """
    if not isinstance(value, str):
        return f"owner filter {value!r} is not a string"
    if WILDCARDS.intersection(value):
        return f"owner filter {_shown(value)} contains a wildcard character"
    if not FLOOR.fullmatch(value):
        return f"owner filter {_shown(value)} is not an identity id"
    return None


def _shown(value: str) -> str:
    """``value`` quoted for a message, cut short: it may be hostile and huge."""
    return repr(value[:80]) + ("..." if len(value) > 80 else "")
