"""The one schema: tombstones, plans, step outcomes and the audit chain.

SQLAlchemy Core tables, not ORM classes: the repositories translate rows into
``reaper.model`` values at the boundary, so nothing outside ``reaper.store``
ever holds a row. The migrations in ``migrations/versions`` must produce
exactly this metadata (a functional test compares them).

Design notes, because later stages depend on them:

* ``tombstones`` is unique on (kind, identity_id): one cleanup per identity,
  whatever number of notifications announced it. Its ``claimed_by`` /
  ``claimed_at`` pair is a lease: workers claim with ``FOR UPDATE SKIP
  LOCKED`` and then hold no transaction open while they work.
* ``tombstone_triggers.message_id`` is unique, so a notification redelivered
  by oslo.messaging (at-least-once) is recognised even after its tombstone
  moved on.
* ``plans`` are content-addressed by their hash; the stored body is the
  canonical JSON the hash was computed over, deflated (``plans.py``).
* ``step_outcomes`` is keyed by (plan_hash, step_id): the key that makes
  "no step runs twice" a database constraint rather than a hope.
* ``audit_records`` is append-only (a trigger refuses UPDATE and DELETE);
  ``body`` holds the exact canonical bytes that were hashed, as text; the
  other columns are copies of fields of the body, for queries, and verify
  checks that they still agree with it.
* ``audit_records`` rows at or below ``audit_chain_head.archived_seq`` may be
  deleted (``reaper audit archive``, after they were written to a verified
  bundle); the trigger refuses any other DELETE.
* ``audit_chain_head`` has one row per audit stream (``id`` is the stream,
  1 to :data:`AUDIT_STREAMS`, all created by the migrations: reaper's login
  need not insert there). An append locks one stream's row, which
  serializes the writers of that stream, so no stream forks; with
  ``[audit] streams`` > 1, writers take any free row (``FOR UPDATE SKIP
  LOCKED``) and appends of several processes run side by side. Row 1 also
  holds the checkpoint chain's head and the archive marks. ``seq`` is then
  drawn from the sequence ``audit_seq`` (0010; PostgreSQL and MariaDB), so
  it stays one increasing number line across streams.
* ``audit_records.stream`` / ``pos`` are NULL for a record written as one
  chain (stream 1, position ``seq``), as every record was before 0010.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from reaper.store.types import MYSQL_TABLE_OPTIONS, BigIntKey, LongText, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Identifier columns: Keystone ids are 32 hex digits, other services' are
#: UUIDs, keypairs are named; 255 leaves room for all of them.
ID = 255
HASH = 64

plans = Table(
    "plans",
    metadata,
    Column("hash", String(HASH), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("identity_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
    Column("body", LongText, nullable=False),
    Index("ix_plans_identity", "kind", "identity_id"),
    **MYSQL_TABLE_OPTIONS,
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("identity_id", String(ID), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", LongText, nullable=False),
    Column("plan_hash", String(HASH), ForeignKey("plans.hash"), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("claimed_by", String(ID), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("kind", "identity_id"),
    Index("ix_tombstones_due", "state", "next_attempt_at"),
    **MYSQL_TABLE_OPTIONS,
)

tombstone_triggers = Table(
    "tombstone_triggers",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("tombstone_id", String(36), ForeignKey("tombstones.id"), nullable=False),
    Column("source", String(16), nullable=False),
    Column("event_type", String(ID), nullable=True),
    Column("message_id", String(ID), nullable=True),
    #: Canonical JSON of the Keystone initiator, when the notification had one.
    Column("initiator", LongText, nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    UniqueConstraint("message_id"),
    Index("ix_tombstone_triggers_tombstone", "tombstone_id"),
    **MYSQL_TABLE_OPTIONS,
)

step_outcomes = Table(
    "step_outcomes",
    metadata,
    Column("plan_hash", String(HASH), ForeignKey("plans.hash"), primary_key=True),
    Column("step_id", String(ID), primary_key=True),
    Column("tombstone_id", String(36), ForeignKey("tombstones.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reason", LongText, nullable=False),
    Column("attempts", Integer(), nullable=False),
    #: Canonical JSON list of one line per retried failure.
    Column("retries", LongText, nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    #: When a deferred step becomes runnable (its grace period ends).
    Column("due_at", UTCDateTime(), nullable=True),
    Column("recorded_at", UTCDateTime(), nullable=False),
    #: A kept step's users, canonical JSON (``Outcome.used_by``); NULL when none.
    Column("used_by", LongText, nullable=True),
    Index("ix_step_outcomes_due", "status", "due_at"),
    **MYSQL_TABLE_OPTIONS,
)

audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger(), primary_key=True, autoincrement=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(ID), nullable=True),
    Column("tombstone_id", String(36), nullable=True),
    Column("plan_hash", String(HASH), nullable=True),
    Column("body", LongText, nullable=False),
    Column("record_hash", String(HASH), nullable=False),
    Column("prev_head", String(HASH), nullable=False),
    Column("head", String(HASH), nullable=False),
    #: The stream and the position in it (0010); NULL: stream 1, at position ``seq``.
    Column("stream", Integer(), nullable=True),
    Column("pos", BigInteger(), nullable=True),
    #: BRIN on PostgreSQL (0009): time grows with seq; a B-tree elsewhere.
    Index("ix_audit_records_recorded_at", "recorded_at", postgresql_using="brin"),
    Index("ix_audit_records_target_id", "target_id"),
    Index("ix_audit_records_tombstone_id", "tombstone_id"),
    **MYSQL_TABLE_OPTIONS,
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("number", BigInteger(), primary_key=True, autoincrement=False),
    Column("seq", BigInteger(), nullable=False),
    Column("head", String(HASH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("tombstone_id", String(36), nullable=True),
    Column("key_id", String(HASH), nullable=True),
    #: The canonical JSON that was signed, and its SHA-256.
    Column("body", LongText, nullable=False),
    Column("digest", String(HASH), nullable=False),
    #: Base64 Ed25519 signature of ``body``; NULL when no key was configured.
    Column("signature", LongText, nullable=True),
    **MYSQL_TABLE_OPTIONS,
)

audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("seq", BigInteger(), nullable=False),
    Column("head", String(HASH), nullable=False),
    Column("checkpoint_number", BigInteger(), nullable=False),
    Column("checkpoint_digest", String(HASH), nullable=True),
    #: Where the stored trail starts once older records were archived (0006):
    #: the last archived seq and the signed checkpoint at it (0: none).
    Column("archived_seq", BigInteger(), nullable=False, server_default="0"),
    Column("archived_checkpoint", BigInteger(), nullable=False, server_default="0"),
    #: How many records the stream holds: its last record's position (0010).
    Column("pos", BigInteger(), nullable=False, server_default="0"),
    **MYSQL_TABLE_OPTIONS,
)

#: Projects and users reaper has seen in Keystone, with their domains: once a
#: domain is deleted Keystone cannot say what it held, and reaper must check
#: that every project of it is covered by a cleanup (``directory.py``).
identities = Table(
    "identities",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=True),
    Column("name", String(ID), nullable=True),
    Column("seen_at", UTCDateTime(), nullable=False),
    #: Who saw it alive first: sweep, notification or keystone (0003).
    Column("source", String(16), nullable=True),
    Index("ix_identities_domain", "domain_id"),
    **MYSQL_TABLE_OPTIONS,
)

#: What a tombstone's project held before reaper first acted and after its
#: latest run, as the services account for it (``reaper/reclaim.py``): canonical
#: JSON of the figures and of what could not be read. ``before`` is written once,
#: so a retried or reopened cleanup reports everything it reclaimed.
reclaim = Table(
    "reclaim",
    metadata,
    Column("tombstone_id", String(36), ForeignKey("tombstones.id"), primary_key=True),
    Column("before", LongText, nullable=False),
    Column("before_at", UTCDateTime(), nullable=False),
    Column("after", LongText, nullable=True),
    Column("after_at", UTCDateTime(), nullable=True),
    **MYSQL_TABLE_OPTIONS,
)

#: Cloud-wide request slots leased by controllers (``slots.py``): one row per
#: service and slot number below the configured cap.
budget_slots = Table(
    "budget_slots",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(255), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    **MYSQL_TABLE_OPTIONS,
)

#: Cloud-wide listings read for discoveries, shared by every controller (``reads.py``):
#: one row per endpoint and listing, holding the newest read (its start, its answer)
#: or the read in flight (its reader and lease); ``generation`` fences every change.
cloud_reads = Table(
    "cloud_reads",
    metadata,
    Column("endpoint", String(ID), primary_key=True),
    Column("listing", String(64), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("began_at", UTCDateTime(), nullable=True),
    Column("reader", String(255), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("body", LongText, nullable=True),
    **MYSQL_TABLE_OPTIONS,
)

#: The row of ``audit_chain_head`` that is stream 1 and holds the checkpoint head and marks.
CHAIN_HEAD_ID = 1

#: How many stream rows ``audit_chain_head`` has (``[audit] streams`` can use up to this).
AUDIT_STREAMS = 32

#: The sequence that numbers records written in streams (0010; not on SQLite or MySQL).
AUDIT_SEQ = "audit_seq"
