"""Who uses the resource of a step kept for a live project when it ran.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Additive: an upgrade from 0004 keeps everything; outcomes recorded before
it simply name no users (their reason still says who, in words).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import LongText

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("step_outcomes", sa.Column("used_by", LongText, nullable=True))


def downgrade() -> None:
    op.drop_column("step_outcomes", "used_by")
