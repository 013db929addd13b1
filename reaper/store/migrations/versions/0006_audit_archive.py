"""Audit retention: records archived to a verified bundle may be pruned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``audit_chain_head`` gains where the stored trail now starts:
``archived_seq`` (the last record moved to a bundle, 0 when none) and
``archived_checkpoint`` (the signed checkpoint at that seq, which vouches
for the head the remaining records follow; 0 when none). The append-only
triggers keep refusing every UPDATE, and every DELETE except of records at
or below ``archived_seq`` and of checkpoints before ``archived_checkpoint``:
``reaper audit archive`` moves the mark (under the chain lock, after the
bundle verified) and deletes in the same transaction, while a stray
``DELETE`` of a live record still fails loudly.

Additive: an upgrade keeps everything; both marks start at 0 (nothing archived).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_REFUSED = "the audit trail is append-only"

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION reaper_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF TG_TABLE_NAME = 'audit_records' THEN
            IF OLD.seq <= (SELECT archived_seq FROM audit_chain_head WHERE id = 1) THEN
                RETURN OLD;
            END IF;
        ELSIF TG_TABLE_NAME = 'audit_checkpoints' THEN
            IF OLD.number < (SELECT archived_checkpoint FROM audit_chain_head WHERE id = 1) THEN
                RETURN OLD;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'reaper: % on % is refused, the audit trail is append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

_PG_FUNCTION_0001 = """
CREATE OR REPLACE FUNCTION reaper_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reaper: % on % is refused, the audit trail is append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

#: The row a DELETE may remove, per table: what the head row says was archived.
_ARCHIVED = {
    "audit_records": "OLD.seq <= (SELECT archived_seq FROM audit_chain_head WHERE id = 1)",
    "audit_checkpoints": (
        "OLD.number < (SELECT archived_checkpoint FROM audit_chain_head WHERE id = 1)"
    ),
}


def _delete_trigger(table: str, *, archived: bool) -> None:
    """Replace the DELETE trigger of ``table`` (SQLite and MySQL; PostgreSQL shares a function)."""
    dialect = op.get_bind().dialect.name
    name = f"{table}_no_delete"
    message = f"reaper: DELETE on {table} is refused, {_REFUSED}"
    op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect in ("mysql", "mariadb"):
        signal = f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'"
        if archived:
            body = f"BEGIN IF NOT ({_ARCHIVED[table]}) THEN {signal}; END IF; END"
        else:
            body = signal
        op.execute(f"CREATE TRIGGER {name} BEFORE DELETE ON {table} FOR EACH ROW {body}")
    else:
        when = f"WHEN NOT ({_ARCHIVED[table]}) " if archived else ""
        op.execute(
            f"CREATE TRIGGER {name} BEFORE DELETE ON {table} {when}"
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def upgrade() -> None:
    for column in ("archived_seq", "archived_checkpoint"):
        op.add_column(
            "audit_chain_head",
            sa.Column(column, sa.BigInteger(), nullable=False, server_default="0"),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        return
    for table in _ARCHIVED:
        _delete_trigger(table, archived=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION_0001)
    else:
        for table in _ARCHIVED:
            _delete_trigger(table, archived=False)
    for column in ("archived_checkpoint", "archived_seq"):
        op.drop_column("audit_chain_head", column)
