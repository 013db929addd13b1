"""``[identity]``: the ids reaper accepts.

A project, user or domain id that does not match is audited and refused, so a
Keystone 404 for an id it never made cannot pass for a deletion.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "identity"


OPTS = [
    cfg.StrOpt(
        "project_id_pattern",
        default="[0-9a-f]{32}",
        help="Regular expression that every project id reaper acts on must match in full. "
        "Keystone makes project ids with uuid4().hex, 32 lower-case hex digits. A "
        "notification naming anything else is audited and counted as rejected, never acted "
        "on, and 'reaper plan --project' refuses it: Keystone answers 404 for ids it never "
        "made, such as '*' or a live project's id in upper case, and those must not pass for "
        "deleted projects. Whatever the pattern, ids longer than 64 characters, with "
        "characters that are not URL-safe or with a wildcard ('%' or '*') are refused.",
    ),
    cfg.StrOpt(
        "user_id_pattern",
        default="[0-9a-f]{32}|[0-9a-f]{64}",
        help="Regular expression that every user id reaper acts on must match in full. The "
        "default accepts what Keystone generates: 32 hex digits for users of its SQL backend "
        "and 64 (the SHA-256 of its id mapping) for federated users and users of LDAP "
        "domain-specific backends. Users of an LDAP backend of the default domain keep their "
        "LDAP attribute as id (Keystone's [identity_mapping] backward_compatible_ids); add "
        "their format, for example '[0-9a-f]{32}|[0-9a-f]{64}|[a-z][a-z0-9._-]*'.",
    ),
    cfg.StrOpt(
        "domain_id_pattern",
        default="[0-9a-f]{32}|default",
        help="Regular expression that every domain id reaper acts on must match in full. "
        "Keystone makes domain ids with uuid4().hex; its default domain is called 'default' "
        "(Keystone's [identity] default_domain_id).",
    ),
]
