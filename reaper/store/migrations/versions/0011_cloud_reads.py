"""Cloud-wide listings read once for every controller (issue 18's storm).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Additive: a new, empty table; a row is created by the first read of its listing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import MYSQL_TABLE_OPTIONS, LongText, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cloud_reads",
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("listing", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("began_at", UTCDateTime(), nullable=True),
        sa.Column("reader", sa.String(255), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("body", LongText, nullable=True),
        sa.PrimaryKeyConstraint("endpoint", "listing", name="pk_cloud_reads"),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("cloud_reads")
