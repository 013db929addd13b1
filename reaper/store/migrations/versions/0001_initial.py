"""Tombstones, plans, step outcomes and the append-only audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

The audit tables refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) with a
trigger: reaper itself never modifies a record, so such a statement is
either a bug or tampering, and either must fail loudly. Someone with enough
privilege can drop the trigger; the hash chain and signed checkpoints are
what detect that.

MySQL and MariaDB came after this revision was first released; what they
need (``DATETIME(6)``, ``LONGTEXT``, utf8mb4 tables with a binary collation,
``SIGNAL`` triggers) is spelled through types and options that leave the
SQLite and PostgreSQL schema exactly as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import MYSQL_TABLE_OPTIONS, BigIntKey, LongText, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64

_PG_APPEND_ONLY = """
CREATE FUNCTION reaper_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reaper: % on % is refused, the audit trail is append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION reaper_audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION reaper_audit_append_only()"
        )
    elif op.get_bind().dialect.name in ("mysql", "mariadb"):
        # MySQL has no TRUNCATE trigger; TRUNCATE needs the DROP privilege,
        # which the controllers' account should not have (doc/operations.md).
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                "FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
                f"'reaper: {verb} on {table} is refused, the audit trail is append-only'"
            )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'reaper: {verb} on {table} is refused, "
                "the audit trail is append-only'); END"
            )


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identity_id", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.Column("body", LongText, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_plans"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_plans_identity", "plans", ["kind", "identity_id"])

    op.create_table(
        "tombstones",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identity_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", LongText, nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tombstones"),
        sa.UniqueConstraint("kind", "identity_id", name="uq_tombstones_kind_identity_id"),
        sa.ForeignKeyConstraint(
            ["plan_hash"], ["plans.hash"], name="fk_tombstones_plan_hash_plans"
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_tombstones_due", "tombstones", ["state", "next_attempt_at"])

    op.create_table(
        "tombstone_triggers",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("tombstone_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("initiator", LongText, nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tombstone_triggers"),
        sa.UniqueConstraint("message_id", name="uq_tombstone_triggers_message_id"),
        sa.ForeignKeyConstraint(
            ["tombstone_id"],
            ["tombstones.id"],
            name="fk_tombstone_triggers_tombstone_id_tombstones",
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_tombstone_triggers_tombstone", "tombstone_triggers", ["tombstone_id"])

    op.create_table(
        "step_outcomes",
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(255), nullable=False),
        sa.Column("tombstone_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", LongText, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retries", LongText, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("plan_hash", "step_id", name="pk_step_outcomes"),
        sa.ForeignKeyConstraint(
            ["plan_hash"], ["plans.hash"], name="fk_step_outcomes_plan_hash_plans"
        ),
        sa.ForeignKeyConstraint(
            ["tombstone_id"],
            ["tombstones.id"],
            name="fk_step_outcomes_tombstone_id_tombstones",
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_step_outcomes_due", "step_outcomes", ["status", "due_at"])

    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("target_type", sa.String(64), nullable=True),
        sa.Column("target_id", sa.String(255), nullable=True),
        sa.Column("tombstone_id", sa.String(36), nullable=True),
        sa.Column("plan_hash", sa.String(64), nullable=True),
        sa.Column("body", LongText, nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("prev_head", sa.String(64), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_records"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_audit_records_recorded_at", "audit_records", ["recorded_at"])
    op.create_index("ix_audit_records_target_id", "audit_records", ["target_id"])
    op.create_index("ix_audit_records_tombstone_id", "audit_records", ["tombstone_id"])

    op.create_table(
        "audit_checkpoints",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("tombstone_id", sa.String(36), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("body", LongText, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("signature", LongText, nullable=True),
        sa.PrimaryKeyConstraint("number", name="pk_audit_checkpoints"),
        **MYSQL_TABLE_OPTIONS,
    )

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("checkpoint_number", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_digest", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
        **MYSQL_TABLE_OPTIONS,
    )
    op.bulk_insert(
        head,
        [{"id": 1, "seq": 0, "head": GENESIS, "checkpoint_number": 0, "checkpoint_digest": None}],
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    _append_only("audit_records")
    _append_only("audit_checkpoints")


def downgrade() -> None:
    # An upgrade never loses data; a downgrade of this revision would drop the
    # audit trail, which nothing may do.
    raise NotImplementedError("reaper's schema is not downgraded")
