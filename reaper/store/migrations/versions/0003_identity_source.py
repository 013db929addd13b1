"""The identity directory says who saw each identity alive first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

The directory now also decides whether a deletion is acted on (an id never
seen alive is not) and which domain protects a deleted identity, so
``tombstone show`` and the audit say where that knowledge came from: the
sweep, a ``created`` notification or Keystone's own answer. Additive and
nullable: rows an older reaper wrote keep working (their source is unknown).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("identities", sa.Column("source", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("identities", "source")
