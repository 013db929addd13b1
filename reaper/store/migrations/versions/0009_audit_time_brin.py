"""The audit trail's time index as a BRIN index on PostgreSQL.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06

``audit_records.recorded_at`` only grows with ``seq`` (records are appended
in time order, give or take the threads of one group commit), which is what
a block-range index is for: it serves ``reaper audit show --since`` and the
archive's cut like the B-tree did, in kilobytes instead of 27 bytes a record
(82 bytes per cleaned resource, 270 MB at ten million records; issue 18's
B3). PostgreSQL builds it in one read of the table. Other databases keep
their B-tree: neither has BRIN.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ix_audit_records_recorded_at"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="audit_records")
    op.create_index(INDEX, "audit_records", ["recorded_at"], postgresql_using="brin")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="audit_records")
    op.create_index(INDEX, "audit_records", ["recorded_at"])
