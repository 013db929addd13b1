"""``[audit]``: the tamper-evident trail's checkpoints and where they are published."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "audit"


#: [audit] options of signing and spacing checkpoints (``audit/checkpointer.py``).
CHECKPOINT_OPTS = [
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

#: [audit] options of appending records (``audit/streams.py``).
STREAM_OPTS = [
    cfg.IntOpt(
        "streams",
        default=1,
        min=1,
        max=32,
        help="How many chains the audit trail is written in side by side, so that that many "
        "processes (controllers, CLI commands) append at once instead of in turn. Each "
        "signed checkpoint names every stream's head, and verify checks each stream as "
        "strictly as one chain. Set it to the number of controllers of a fleet (8 serves up "
        "to 8 without waiting; a process's threads already share one transaction). "
        "PostgreSQL and MariaDB 10.6 or later; SQLite and MySQL always use 1. With 1 (the "
        "default), records are numbered without gaps as before; with more, seq has gaps "
        "where an append rolled back.",
    ),
]

#: [audit] options of publishing checkpoints outside the database (``audit/publish.py``).
PUBLISH_OPTS = [
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

OPTS = [*CHECKPOINT_OPTS, *STREAM_OPTS, *PUBLISH_OPTS]
