"""Audit streams: appends of several processes no longer wait for one row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``audit_chain_head`` gets one row per stream (ids 2 to 32, empty: position
0, the stream's genesis head) and a ``pos`` column (row 1's is its ``seq``:
every record so far is stream 1 at position ``seq``). ``audit_records``
gets ``stream`` and ``pos``, NULL for every existing record (one chain, as
written). On PostgreSQL and MariaDB the sequence ``audit_seq`` numbers
records written in streams, starting after the last record.

Additive: no existing row changes but row 1's new ``pos``; the records stay
byte for byte what was hashed.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

STREAMS = 32

_MARIADB_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"


def _genesis(stream: int) -> str:
    return hashlib.sha256(f"reaper-audit-stream/{stream}".encode()).hexdigest()


def has_sequences(bind: sa.engine.Connection) -> bool:
    """PostgreSQL, and MariaDB from 10.3; not SQLite, not MySQL."""
    dialect = bind.dialect
    if dialect.name == "postgresql":
        return True
    return bool(getattr(dialect, "is_mariadb", False)) and dialect.server_version_info >= (10, 3)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "audit_chain_head", sa.Column("pos", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column("audit_records", sa.Column("stream", sa.Integer(), nullable=True))
    op.add_column("audit_records", sa.Column("pos", sa.BigInteger(), nullable=True))
    head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("head", sa.String()),
        sa.column("checkpoint_number", sa.BigInteger()),
        sa.column("checkpoint_digest", sa.String()),
        sa.column("archived_seq", sa.BigInteger()),
        sa.column("archived_checkpoint", sa.BigInteger()),
        sa.column("pos", sa.BigInteger()),
    )
    op.execute(head.update().where(head.c.id == 1).values(pos=head.c.seq))
    op.bulk_insert(
        head,
        [
            {
                "id": stream,
                "seq": 0,
                "head": _genesis(stream),
                "checkpoint_number": 0,
                "checkpoint_digest": None,
                "archived_seq": 0,
                "archived_checkpoint": 0,
                "pos": 0,
            }
            for stream in range(2, STREAMS + 1)
        ],
    )
    if has_sequences(bind):
        start = bind.execute(sa.text("SELECT seq FROM audit_chain_head WHERE id = 1")).scalar()
        # On MariaDB a sequence is a table: the same options as every other one.
        options = "" if bind.dialect.name == "postgresql" else _MARIADB_OPTIONS
        op.execute(f"CREATE SEQUENCE audit_seq START WITH {int(start or 0) + 1}{options}")


def downgrade() -> None:
    if has_sequences(op.get_bind()):
        op.execute("DROP SEQUENCE audit_seq")
    op.execute("DELETE FROM audit_chain_head WHERE id > 1")
    op.drop_column("audit_records", "pos")
    op.drop_column("audit_records", "stream")
    op.drop_column("audit_chain_head", "pos")
