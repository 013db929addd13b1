"""What each tombstone's project held before and after its cleanup.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Additive: an upgrade from 0003 keeps everything; tombstones cleaned up
before it simply have no reclaim figures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import MYSQL_TABLE_OPTIONS, LongText, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reclaim",
        sa.Column("tombstone_id", sa.String(36), nullable=False),
        sa.Column("before", LongText, nullable=False),
        sa.Column("before_at", UTCDateTime(), nullable=False),
        sa.Column("after", LongText, nullable=True),
        sa.Column("after_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tombstone_id"],
            ["tombstones.id"],
            name="fk_reclaim_tombstone_id_tombstones",
        ),
        sa.PrimaryKeyConstraint("tombstone_id", name="pk_reclaim"),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("reclaim")
