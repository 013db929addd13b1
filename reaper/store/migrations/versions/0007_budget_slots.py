"""Cloud-wide request slots that controllers lease (``[executor] shared_concurrency``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Additive: a new, empty table; rows are created on first use.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import MYSQL_TABLE_OPTIONS, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget_slots",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("service", "slot", name="pk_budget_slots"),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("budget_slots")
