"""reaper's configuration options and how a ``ConfigOpts`` is built.

There is no global ``CONF``: every entry point calls :func:`make_conf` and
passes the resulting object into the constructors that need it (the aodh
way), so tests build as many independent configurations as they like.

Groups follow the pipeline: ``[DEFAULT]`` (what reaper may do, where its
state lives), ``[listener]`` (the notification bus), ``[identity]`` (the ids
it accepts), ``[store]`` (the database), ``[service_credentials]`` (how
reaper reaches the cloud), ``[executor]`` (how fast it acts), ``[sweep]``
(finding missed deletions), ``[api]`` (health and metrics), ``[audit]`` (the
tamper-evident trail).
:func:`list_opts` feeds ``oslo-config-generator`` through the
``oslo.config.opts`` entry point.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

import reaper

SERVICE_CREDENTIALS_GROUP = "service_credentials"


def _default_state_path() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "reaper")


DEFAULT_OPTS = [
    cfg.BoolOpt(
        "debug",
        default=False,
        help="Log at DEBUG level, including the HTTP requests of the libraries reaper uses.",
    ),
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<hostname>",
        help="Name of this reaper instance. It is recorded as the observer of every audit "
        "record and as the owner of claimed work, so it must be unique per controller.",
    ),
    cfg.StrOpt(
        "state_path",
        default=_default_state_path(),
        sample_default="$XDG_STATE_HOME/reaper",
        help="Directory where reaper keeps its embedded SQLite store and generated keys. "
        "Services normally set this to /var/lib/reaper.",
    ),
    cfg.BoolOpt(
        "dry_run",
        default=True,
        help="When true, the controller verifies, discovers, plans and audits but never "
        "changes a cloud resource. Set it to false only after reviewing the plans it "
        "records, because from then on deletions in Keystone lead to real cleanups.",
    ),
    cfg.ListOpt(
        "policy_paths",
        default=[],
        help="Policy files or directories of *.yaml files to load. When empty, the default "
        "policies shipped with reaper are used.",
    ),
    cfg.ListOpt(
        "protected_project_ids",
        default=[],
        help="Projects whose resources reaper never touches, whatever a policy says "
        "(for example the admin and service projects). Protection fails closed.",
    ),
    cfg.ListOpt(
        "protected_domain_ids",
        default=[],
        help="Domains whose projects and users reaper never touches, whatever a policy says.",
    ),
    # The controller's own (reaper/controller.py); declared here so that reading the
    # configuration does not import the messaging stack into every CLI command.
    cfg.IntOpt(
        "workers",
        default=4,
        min=1,
        help="Number of tombstones one controller works on at the same time.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=2.0,
        min=0.1,
        help="Seconds between looks for due work (grace periods ending, retries, other "
        "controllers' notifications); new notifications wake the workers at once.",
    ),
    cfg.FloatOpt(
        "shutdown_grace",
        default=10.0,
        min=0.0,
        help="Seconds the controller gives itself to stop after SIGTERM: requests in flight "
        "finish, steps waiting to retry are left to the next claim, and the process exits 0 "
        "within this time even if something still hangs. Keep it below the service "
        "manager's stop timeout (systemd's TimeoutStopSec).",
    ),
]

LISTENER_OPTS = [
    cfg.StrOpt(
        "exchange",
        default="keystone",
        help="Exchange on which Keystone publishes its notifications.",
    ),
    cfg.ListOpt(
        "topics",
        default=["notifications"],
        help="Notification topics to listen on. Keystone publishes on the topics of its "
        "[oslo_messaging_notifications] section; 'notifications' is its default.",
    ),
    cfg.StrOpt(
        "pool",
        default="reaper",
        help="Listener pool name. reaper gets its own queue with this name, so it never "
        "competes with other consumers (such as ceilometer) for the shared queue, while "
        "several reaper controllers with the same pool share the work.",
    ),
    cfg.BoolOpt(
        "dead_letter",
        default=True,
        help="Declare the pool queue with a dead-letter exchange, so that messages the "
        "message driver cannot decode (which it would drop) move to the queue "
        "'<pool>.dead-letter', where reaper records the hash, size and headers of each in "
        "the audit trail, counts it, and acts on none. A pool queue declared by an older "
        "reaper keeps working without it until 'reaper queue declare' upgrades it (see "
        "doc/operations.md).",
    ),
    cfg.IntOpt(
        "executor_threads",
        default=4,
        min=1,
        help="Number of threads that persist incoming notifications.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=256,
        min=1,
        help="Most notifications persisted in one transaction. A batch is handed over when "
        "it is full or batch_timeout has passed, so a busy bus gets large batches (one "
        "commit for many notifications) and a quiet one gets no added delay beyond "
        "batch_timeout.",
    ),
    cfg.FloatOpt(
        "batch_timeout",
        default=0.05,
        min=0.0,
        help="Seconds to wait for a batch to fill before persisting what has arrived.",
    ),
    cfg.IntOpt(
        "max_payload_bytes",
        default=65536,
        min=1024,
        help="Notifications whose serialized payload is larger than this are rejected and "
        "audited instead of parsed. Keystone's identity notifications are a few KiB.",
    ),
]

IDENTITY_OPTS = [
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

STORE_OPTS = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of reaper's database. When unset, an embedded SQLite file in "
        "state_path is used, which suits the CLI and a single controller. Use PostgreSQL "
        "(postgresql+psycopg2://...) or MySQL 8 / MariaDB 10.6+ (mysql+pymysql://...) to "
        "run several controllers.",
    ),
    cfg.IntOpt(
        "connect_timeout",
        default=10,
        min=1,
        help="Seconds to wait for the database before reporting it unreachable.",
    ),
]

EXECUTOR_OPTS = [
    cfg.IntOpt(
        "compute_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Compute service.",
    ),
    cfg.IntOpt(
        "block_storage_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Block Storage service.",
    ),
    cfg.IntOpt(
        "network_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Networking service.",
    ),
    cfg.IntOpt(
        "image_concurrency",
        default=4,
        min=1,
        help="Maximum number of concurrent requests to the Image service.",
    ),
    cfg.IntOpt(
        "identity_concurrency",
        default=4,
        min=1,
        help="Maximum number of concurrent requests to the Identity service.",
    ),
    cfg.IntOpt(
        "retry_attempts",
        default=8,
        min=1,
        help="Attempts per step before a transient failure (5xx, 409 in use, 429, connection "
        "error) is reported as failed.",
    ),
    cfg.IntOpt(
        "conflict_retry_budget",
        default=40,
        min=1,
        help="Attempts a step may spend, over every run of its plan, on conflicts (409, a "
        "volume still in use) before it is blocked: the tombstone is then held with the "
        "blocking reason (reaper tombstone show) instead of being retried for ever, "
        "counted in reaper_steps_blocked_total and logged as an error. Resolve the "
        "conflict, then 'reaper approve' the tombstone.",
    ),
    cfg.FloatOpt(
        "retry_max_wait",
        default=30.0,
        min=0.1,
        help="Upper bound in seconds of the exponential backoff between attempts.",
    ),
    cfg.FloatOpt(
        "confirm_interval",
        default=1.0,
        min=0.1,
        help="Seconds from the end of one listing that confirms asynchronous deletions of "
        "a type to the start of the next.",
    ),
    cfg.FloatOpt(
        "confirm_max_interval",
        default=4.0,
        min=0.1,
        help="While a type's confirmation listings find nothing gone, the gap between them "
        "grows by half each time up to this many seconds, so a slow service is not asked "
        "again and again while it works; it comes down a step with each listing that "
        "confirms something. Also the longest a type's listing waits for more of its "
        "deletions still to be sent.",
    ),
    cfg.FloatOpt(
        "confirm_timeout",
        default=600.0,
        min=1.0,
        help="Seconds after which a resource that is still listed after its deletion was "
        "accepted is reported as failed.",
    ),
]

SWEEP_OPTS = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Periodically look for resources owned by projects or users that no longer "
        "exist in Keystone, to catch deletions whose notification was lost.",
    ),
    cfg.IntOpt(
        "interval",
        default=3600,
        min=60,
        help="Seconds between two sweeps.",
    ),
    cfg.IntOpt(
        "min_age",
        default=600,
        min=0,
        help="Resources younger than this many seconds are ignored by the sweep, so a "
        "project being created is never mistaken for an orphan.",
    ),
    cfg.IntOpt(
        "max_orphans",
        default=20,
        min=0,
        help="A sweep that finds more orphaned owners (projects and users Keystone says are "
        "gone) than this opens no tombstone: it is held for an operator, with an alert "
        "(log and reaper_sweeps_held_total). Review with `reaper sweep`, approve with "
        "`reaper sweep --open --approve`. 0: no absolute limit.",
    ),
    cfg.FloatOpt(
        "max_orphan_fraction",
        default=0.1,
        min=0.0,
        max=1.0,
        help="The same hold, when the orphaned owners exceed this fraction of the projects "
        "Keystone lists: a Keystone answering 404 for everything looks like this. "
        "0: no relative limit.",
    ),
]

API_OPTS = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address on which the controller serves /healthz and /metrics.",
    ),
    cfg.PortOpt(
        "port",
        default=9797,
        help="Port on which the controller serves /healthz and /metrics.",
    ),
]

#: [audit] options of publishing checkpoints outside the database (``audit/publish.py``).
AUDIT_PUBLISH_OPTS = [
    cfg.ListOpt(
        "checkpoint_sinks",
        default=[],
        item_type=cfg.types.String(choices=("file", "syslog", "notification")),
        help="Where each audit checkpoint is published besides the database: any of 'file' "
        "(checkpoint_file), 'syslog' (checkpoint_syslog_address) and 'notification' (an "
        "oslo.messaging notification 'reaper.audit.checkpoint' on checkpoint_topics, for a "
        "SIEM). Whoever holds reaper's database login can cut the tail of the audit trail "
        "and sign the rewound head; 'reaper audit verify --against' finds it by comparing "
        "the database with these copies. Empty publishes nowhere, and reaper warns at start.",
    ),
    cfg.StrOpt(
        "checkpoint_file",
        help="File to which the 'file' sink appends one JSON line per checkpoint. It must lie "
        "outside state_path, best on storage reaper's database login cannot reach (another "
        "host, or a file made append-only with 'chattr +a').",
    ),
    cfg.StrOpt(
        "checkpoint_syslog_address",
        default="/dev/log",
        help="Where the 'syslog' sink sends checkpoints (facility auth, tag "
        "reaper-audit-checkpoint): a Unix socket path, or host:port for syslog over UDP.",
    ),
    cfg.ListOpt(
        "checkpoint_topics",
        default=["notifications"],
        help="oslo.messaging topics on which the 'notification' sink emits "
        "'reaper.audit.checkpoint' at INFO priority, through [oslo_messaging_notifications] "
        "transport_url (else [DEFAULT] transport_url).",
    ),
]

AUDIT_OPTS = [
    cfg.StrOpt(
        "signing_key_file",
        help="PEM file holding the Ed25519 private key that signs audit checkpoints. "
        "Without it checkpoints are written unsigned and reaper warns at start; an "
        "unsigned chain still detects edits, but not its own wholesale replacement.",
    ),
    cfg.IntOpt(
        "checkpoint_interval",
        default=300,
        min=10,
        help="Seconds between two checkpoints of the audit chain. A checkpoint is written "
        "even when nothing happened, so silence can be told apart from truncation.",
    ),
]


CREDENTIAL_OPTS = [
    cfg.StrOpt(
        "cloud",
        help="Name of a cloud in clouds.yaml to use instead of the keystoneauth options of "
        "this section. The credentials must be an admin's, because a token scoped to a "
        "deleted project cannot exist.",
    ),
    cfg.StrOpt(
        "region_name",
        help="Region in which reaper acts.",
    ),
    cfg.StrOpt(
        "interface",
        default="public",
        choices=("public", "internal", "admin"),
        help="Endpoint interface reaper uses from the catalog.",
    ),
    cfg.FloatOpt(
        "keystone_retry_max_wait",
        default=60.0,
        min=1.0,
        help="Longest wait, in seconds, between two tries of Keystone while it cannot be "
        "reached or refuses reaper's credentials. Meanwhile the controller claims no "
        "tombstone (none is given up) and /healthz says why; it resumes at most this long "
        "after Keystone answers again.",
    ),
]


#: The keystoneauth plugins doc/install.md documents, whose options the sample lists.
DOCUMENTED_AUTH_TYPES = ("password", "v3applicationcredential")


def _credential_opts() -> list[cfg.Opt]:
    """[service_credentials] as the sample config shows it: reaper's, the session's, the plugins'.

    Only for ``oslo-config-generator``: at run time keystoneauth registers the
    options of whichever ``auth_type`` is configured, just before it reads
    them (see :func:`register_opts`), the way aodh and ceilometer do. The
    options of the documented plugins are listed once each.
    """
    opts: list[cfg.Opt] = [
        *CREDENTIAL_OPTS,
        *ks_loading.get_session_conf_options(),
        *ks_loading.get_auth_common_conf_options(),
    ]
    seen = {o.dest for o in opts}
    for auth_type in DOCUMENTED_AUTH_TYPES:
        for opt in ks_loading.get_auth_plugin_conf_options(auth_type):
            if opt.dest not in seen:
                seen.add(opt.dest)
                opts.append(opt)
    return opts


GROUPS: dict[str, list[cfg.Opt]] = {
    "DEFAULT": DEFAULT_OPTS,
    "listener": LISTENER_OPTS,
    "identity": IDENTITY_OPTS,
    "store": STORE_OPTS,
    "executor": EXECUTOR_OPTS,
    "sweep": SWEEP_OPTS,
    "api": API_OPTS,
    "audit": [*AUDIT_OPTS, *AUDIT_PUBLISH_OPTS],
}


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Every option reaper registers, for ``oslo-config-generator``."""
    groups = {name: list(opts) for name, opts in GROUPS.items()}
    return [
        *[(None if name == "DEFAULT" else name, opts) for name, opts in groups.items()],
        (SERVICE_CREDENTIALS_GROUP, _credential_opts()),
    ]


def register_opts(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    """Register every option a run reads.

    ``[service_credentials]`` gets reaper's own options, the session's and
    ``auth_type``/``auth_section`` only: registering a plugin's options
    here as well would make keystoneauth's loader, which registers the
    configured plugin's options itself, fail with ``DuplicateOptError``.
    """
    for group, opts in list_opts():
        if group != SERVICE_CREDENTIALS_GROUP:
            conf.register_opts(opts, group=group)
    conf.register_opts(CREDENTIAL_OPTS, group=SERVICE_CREDENTIALS_GROUP)
    ks_loading.register_session_conf_options(conf, SERVICE_CREDENTIALS_GROUP)
    ks_loading.register_auth_conf_options(conf, SERVICE_CREDENTIALS_GROUP)
    return conf


def make_conf(
    argv: Sequence[str] | None = None,
    config_files: Sequence[str] | None = None,
    *,
    prog: str = "reaper",
) -> cfg.ConfigOpts:
    """A fresh, fully registered configuration, parsed from ``argv`` and files.

    With no ``config_files`` and no ``--config-file`` in ``argv``, oslo.config
    looks in its usual places (``/etc/reaper/reaper.conf``, ``~/.reaper/``...)
    and, finding nothing, leaves every option at its embedded default.
    """
    conf = register_opts(cfg.ConfigOpts())
    conf(
        list(argv or []),
        project="reaper",
        prog=prog,
        version=reaper.version_string(),
        default_config_files=list(config_files) if config_files is not None else None,
    )
    return conf


def store_url(conf: cfg.ConfigOpts) -> str:
    """The database URL, the embedded SQLite file when none is configured."""
    if conf.store.connection:
        return conf.store.connection
    return "sqlite:///" + os.path.join(conf.state_path, "reaper.sqlite")
